/**
 * Runs slow-readers.py: `count` real clients with small receive buffers that send one streaming
 * request each and read nothing (for good, or for `resumeAfterS` seconds, then to the end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./slow-readers.py', import.meta.url));

/** How the answers ended once read (see slow-readers.py). */
export interface SlowReaderCounts {
  complete: number;
  error: number;
  cut: number;
  refused: number;
  bytes: number;
  /** How long reading every answer to its end took. */
  seconds: number;
}

export interface SlowReaders {
  child: ChildProcess;
  /** Every request is written. */
  sent: Promise<void>;
  /** With `resumeAfterS`: the clients started reading. */
  reading: Promise<void>;
  /** With `resumeAfterS`: every answer was read to its end. */
  done: Promise<SlowReaderCounts>;
  /** Closes every socket (SIGKILL). */
  kill(): void;
}

export function startSlowReaders(opts: { python: string; url: string; count: number; apiKey: string; body: unknown; resumeAfterS?: number }): SlowReaders {
  const { hostname, port } = new URL(opts.url);
  const args = [SCRIPT, hostname, port, String(opts.count), opts.apiKey, ...(opts.resumeAfterS === undefined ? [] : [String(opts.resumeAfterS)])];
  const child = spawn(opts.python, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.write(`${JSON.stringify(opts.body)}\n`);
  let out = '';
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...watchers]) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = (test: (text: string) => string | undefined) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = test(out);
        if (found === undefined) return false;
        watchers.delete(check);
        resolve(found);
        return true;
      };
      watchers.add(check);
      void exited.then((code) => {
        if (!check()) reject(new Error(`slow-readers.py exited with ${code} (output: ${out.slice(-500)})`));
      });
    });
  const sent = line((t) => (t.includes(`sent ${opts.count}`) ? 'sent' : undefined)).then(() => {});
  const reading = line((t) => (t.includes('\nreading') ? 'reading' : undefined)).then(() => {});
  const done = line((t) => /^\{.*\}$/m.exec(t)?.[0]).then((json) => JSON.parse(json) as SlowReaderCounts);
  // Only some of these are awaited, depending on the mode; none may go unhandled.
  for (const p of [sent, reading, done]) p.catch(() => {});
  return {
    child,
    sent,
    reading,
    done,
    kill: () => {
      child.stdin!.end();
      child.kill('SIGKILL');
    },
  };
}
