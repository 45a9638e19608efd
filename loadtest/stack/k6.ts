/**
 * Runs a k6 profile from loadtest/ against a target and returns its exit code and summary. k6's
 * own output goes to this process' stdout (or is collected), and `handleSummary` writes
 * `<resultsDir>/<profile>-summary.{json,txt}`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../test/helpers/replicas.js';

export const LOADTEST_DIR = join(ROOT, 'loadtest');
export const DEFAULT_RESULTS_DIR = join(LOADTEST_DIR, 'results');

export interface K6RunOptions {
  k6Binary: string;
  /** Profile file name without .js (smoke, load, …). */
  profile: string;
  target: string;
  apiKey: string;
  /** More K6_* variables (rates, thresholds, simulator scripts). */
  env?: Record<string, string>;
  resultsDir?: string;
  /** Also write every sample as CSV here (`--out csv=`), for time series. */
  csvOut?: string;
  /** Print k6's output live (default) or only collect it. */
  quiet?: boolean;
  signal?: AbortSignal;
}

export interface K6Result {
  /** 0 = passed, 99 = a threshold failed, other = k6 error. */
  code: number;
  output: string;
  /** handleSummary's JSON (data.metrics, data.root_group), when written. */
  summary: any;
  summaryPath: string;
}

export function runK6(opts: K6RunOptions): Promise<K6Result> {
  const resultsDir = opts.resultsDir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(resultsDir, { recursive: true });
  const script = join(LOADTEST_DIR, `${opts.profile}.js`);
  if (!existsSync(script)) throw new Error(`no k6 profile ${script}`);
  const args = ['run', '--no-color', '--quiet', ...(opts.csvOut ? ['--out', `csv=${opts.csvOut}`] : []), script];
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    K6_TARGET: opts.target,
    K6_API_KEY: opts.apiKey,
    K6_RESULTS_DIR: resultsDir,
    K6_NO_USAGE_REPORT: 'true',
    ...opts.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(opts.k6Binary, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-200_000);
      if (!opts.quiet) process.stdout.write(chunk);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const abort = () => child.kill('SIGINT');
    opts.signal?.addEventListener('abort', abort, { once: true });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', abort);
      const summaryPath = join(resultsDir, `${opts.profile}-summary.json`);
      let summary: unknown;
      try {
        summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
      } catch {
        summary = undefined;
      }
      resolve({ code: code ?? (signal ? 128 : 1), output, summary, summaryPath });
    });
  });
}
