/**
 * Reads the root Dockerfile's runtime (last) stage: what it copies from which stage, its ENV, USER,
 * WORKDIR and CMD. The image test rebuilds that stage on disk from this, so the test follows the
 * Dockerfile instead of a second hand-kept list of files.
 */
import { readFileSync } from 'node:fs';

export interface StageCopy {
  from: string;
  source: string;
  destination: string;
}

export interface RuntimeStage {
  base: string;
  workdir: string;
  user: string;
  env: Record<string, string>;
  copies: StageCopy[];
  cmd: string[];
  healthcheck: string[];
  /** `WORKDIR` of each earlier stage, to map `COPY --from=<stage> /abs/path` back to the repo. */
  stageWorkdirs: Record<string, string>;
}

/** Joins backslash-continued lines and drops comments. */
function instructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim()) out.push(current.trim());
    current = '';
  }
  return out;
}

function parseEnv(rest: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return env;
}

/** Parses `path` (the Dockerfile) into its runtime stage. */
export function readRuntimeStage(path: string): RuntimeStage {
  const args: Record<string, string> = {};
  const stageWorkdirs: Record<string, string> = {};
  let stage: RuntimeStage | undefined;
  let stageName = '';
  const expand = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args[a ?? b] ?? '');
  for (const ins of instructions(readFileSync(path, 'utf8'))) {
    const [, op, rest = ''] = /^(\w+)\s+(.*)$/s.exec(ins) ?? [];
    switch (op?.toUpperCase()) {
      case 'ARG': {
        const [name, value] = rest.split('=', 2);
        if (value !== undefined) args[name!.trim()] = value.trim();
        break;
      }
      case 'FROM': {
        const [base, , name] = rest.split(/\s+/);
        stageName = name ?? '';
        stage = { base: expand(base!), workdir: '/', user: 'root', env: {}, copies: [], cmd: [], healthcheck: [], stageWorkdirs };
        break;
      }
      case 'WORKDIR':
        stage!.workdir = rest.trim();
        if (stageName) stageWorkdirs[stageName] = stage!.workdir;
        break;
      case 'USER':
        stage!.user = rest.trim();
        break;
      case 'ENV':
        Object.assign(stage!.env, parseEnv(rest));
        break;
      case 'COPY': {
        const from = /--from=(\S+)/.exec(rest)?.[1] ?? '';
        const parts = rest.replace(/--\S+/g, '').trim().split(/\s+/);
        stage!.copies.push({ from, source: parts[0]!, destination: parts[1]! });
        break;
      }
      case 'CMD':
        stage!.cmd = JSON.parse(rest) as string[];
        break;
      case 'HEALTHCHECK': {
        const cmd = /CMD\s+(\[.*\])\s*$/s.exec(rest)?.[1];
        if (cmd) stage!.healthcheck = JSON.parse(cmd) as string[];
        break;
      }
      default:
        break;
    }
  }
  if (!stage) throw new Error(`${path} has no FROM`);
  return stage;
}
