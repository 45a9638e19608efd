/**
 * `npm run bench`: the simulator served directly vs the same conversations through the gateway.
 * Three processes (simulator, gateway, this load generator) on one machine; streaming requests at
 * 1 and 50 concurrent streams; req/s and time to first body byte (p50/p99); the ratio of the two.
 * Every response is checked: all upstream text chunks must arrive, in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 20);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,50').split(',').map(Number);
const ROOT = new URL('../../', import.meta.url).pathname;

function startProcess(script: string, args: string[], env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, script), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    const onData = (data: Buffer) => {
      seen += data.toString();
      const match = /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0):\d+/.exec(seen);
      if (match) {
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        resolve({ url: match[0].replace('0.0.0.0', '127.0.0.1'), child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${seen}`)));
    setTimeout(() => reject(new Error(`${script} did not start: ${seen}`)), 20_000).unref();
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  outOfOrder: number;
}

async function load(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: string,
  concurrency: number,
  verify: (text: string) => boolean,
): Promise<Result> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const ttfb: number[] = [];
  let errors = 0;
  let outOfOrder = 0;
  const deadline = performance.now() + DURATION_MS;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const res = await pool.request({ path, method: 'POST', headers, body });
        let first = true;
        const parts: Buffer[] = [];
        for await (const chunk of res.body) {
          if (first) {
            ttfb.push(performance.now() - t0);
            first = false;
          }
          parts.push(chunk as Buffer);
        }
        if (res.statusCode !== 200) errors++;
        else if (!verify(Buffer.concat(parts).toString('utf8'))) outOfOrder++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  ttfb.sort((a, b) => a - b);
  return { rps: ttfb.length / elapsed, p50: percentile(ttfb, 50), p99: percentile(ttfb, 99), requests: ttfb.length, errors, outOfOrder };
}

function expectedChunks(): string[] {
  return Array.from({ length: CHUNKS }, (_, i) => `chunk-${String(i).padStart(4, '0')} `);
}

async function main(): Promise<void> {
  const chunks = expectedChunks();
  const text = chunks.join('');
  const sim = await startProcess('dist/src/simulator/main.js', [
    '--port', '0', '--accept-any-token', '--chunks', String(CHUNKS), '--text', text,
  ], {});
  const dir = mkdtempSync(join(tmpdir(), 'kiro-bench-'));
  const credentialsPath = join(dir, 'credentials.json');
  writeFileSync(credentialsPath, JSON.stringify([{ refreshToken: 'b'.repeat(120), authMethod: 'social' }]));
  const gw = await startProcess('dist/src/main.js', ['--credentials', credentialsPath], {
    KIRO_PORT: '0',
    KIRO_HOST: '127.0.0.1',
    KIRO_CLIENT_API_KEY: 'bench-key',
    KIRO_UPSTREAM_API_BASE_URL: sim.url,
    KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${sim.url}/refreshToken`,
    KIRO_UPSTREAM_IDC_REFRESH_URL: `${sim.url}/token`,
    KIRO_LOG_LEVEL: 'warn',
    KIRO_LOG_PRETTY: 'false',
    ...(process.env.BENCH_GATEWAY_ENV ? JSON.parse(process.env.BENCH_GATEWAY_ENV) : {}),
  });

  const kiroBody = JSON.stringify({
    conversationState: {
      agentContinuationId: '00000000-0000-4000-8000-000000000001',
      agentTaskType: 'vibe',
      chatTriggerType: 'MANUAL',
      conversationId: '00000000-0000-4000-8000-000000000002',
      currentMessage: { userInputMessage: { content: 'Say hello', modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR', userInputMessageContext: {} } },
    },
  });
  const anthropicBody = JSON.stringify({
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 1024,
    stream: true,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  // Upstream frames carry the chunks verbatim; the SSE deltas must carry them in the same order.
  const inOrder = (body: string) => {
    let at = 0;
    for (const c of chunks) {
      const found = body.indexOf(c, at);
      if (found < 0) return false;
      at = found + c.length;
    }
    return true;
  };

  const rows: string[] = [];
  try {
    for (const c of CONCURRENCIES) {
      const direct = await load(sim.url, '/generateAssistantResponse', { 'content-type': 'application/json', authorization: 'Bearer bench' }, kiroBody, c, inOrder);
      const via = await load(gw.url, '/v1/messages', { 'content-type': 'application/json', 'x-api-key': 'bench-key' }, anthropicBody, c, inOrder);
      rows.push(
        `| ${c} | ${direct.rps.toFixed(0)} | ${via.rps.toFixed(0)} | ${(via.rps / direct.rps).toFixed(2)}× | ` +
          `${direct.p50.toFixed(2)} / ${direct.p99.toFixed(2)} | ${via.p50.toFixed(2)} / ${via.p99.toFixed(2)} | ` +
          `${(via.p50 - direct.p50).toFixed(2)} | ${via.errors + direct.errors} | ${via.outOfOrder + direct.outOfOrder} |`,
      );
    }
  } finally {
    sim.child.kill('SIGKILL');
    gw.child.kill('SIGKILL');
  }
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(`\nkiro-gateway bench — ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  console.log(`${CHUNKS} upstream chunks per response, ${DURATION_MS / 1000}s per measurement, streaming requests\n`);
  console.log('| streams | simulator req/s | gateway req/s | ratio | sim TTFB p50/p99 ms | gw TTFB p50/p99 ms | added p50 ms | errors | out of order |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
