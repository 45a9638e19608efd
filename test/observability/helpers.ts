/** Small helpers for the observability tests: a Koa app on port 0, a log capture, polling. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type Koa from 'koa';

/** A Koa app listening on an ephemeral port. */
export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Starts `app` on 127.0.0.1:0; `close()` also drops keep-alive connections. */
export async function serve(app: Koa): Promise<Served> {
  app.silent = true; // thrown errors are part of some tests; keep stderr quiet
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** A pino destination that keeps every written line. */
export interface LogCapture {
  write(line: string): void;
  /** Raw lines as written (each ends with a newline for JSON output). */
  readonly raw: string[];
  /** All output concatenated. */
  text(): string;
  /** JSON-parsed lines. */
  json(): Record<string, unknown>[];
}

/** Creates a {@link LogCapture}. */
export function captureLogs(): LogCapture {
  const raw: string[] = [];
  return {
    raw,
    write(line: string) {
      raw.push(line);
    },
    text: () => raw.join(''),
    json: () =>
      raw
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws). */
export async function waitFor<T>(check: () => T | undefined | false, timeoutMs = 3000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
