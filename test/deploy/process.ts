/** Child-process helpers shared by the deploy tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/replicas.js';

/** Runs a command to completion; resolves with its exit code and combined output (never rejects). */
export function runCommand(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs = 120_000,
  env: NodeJS.ProcessEnv = process.env,
  input?: string,
): Promise<{ code: number | null; output: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    child.stdout!.on('data', (c: Buffer) => {
      output += c.toString('utf8');
      stdout += c.toString('utf8');
    });
    child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    if (input !== undefined) child.stdin!.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, output: `${output}\n${err.message}`, stdout });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, stdout });
    });
  });
}

/** Resolves with the first output line of `child` matching `pattern`; rejects on exit or timeout. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, onOutput?: (all: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let all = '';
    const onData = (c: Buffer) => {
      all += c.toString('utf8');
      onOutput?.(all);
      const m = pattern.exec(all);
      if (m) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(m[0]);
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before printing ${pattern}:\n${all}`));
    };
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${all}`)), timeoutMs);
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

let uiBuild: Promise<void> | undefined;

/** admin-ui/dist exists (npm test builds it before vitest; a single-file run builds it here). */
export function ensureAdminUiBuilt(): Promise<void> {
  if (existsSync(join(ROOT, 'admin-ui', 'dist', 'index.html'))) return Promise.resolve();
  uiBuild ??= runCommand('npx', ['vite', 'build', '--config', 'admin-ui/vite.config.ts', '--logLevel', 'warn'], ROOT, 180_000).then((res) => {
    if (res.code !== 0) throw new Error(`admin UI build failed:\n${res.output}`);
  });
  return uiBuild;
}
