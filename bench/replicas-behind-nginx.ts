/**
 * 1 vs 3 gateway replicas behind nginx (the local stack: redis-server, simulator, replicas
 * configured as the chart does, nginx with the Ingress' SSE settings): the same closed-loop load
 * through nginx on each, req/s and TTFB. The simulator answers instantly here, so the numbers are
 * the cost of nginx + gateway on this machine (all processes share its cores).
 */
import { startLocalStack } from '../loadtest/stack/local-stack.js';
import { load, type Result } from './load.js';

export interface ReplicasResult {
  replicas: number;
  concurrency: number;
  result: Result;
}

export async function benchReplicasBehindNginx(opts: {
  nginxBinary: string;
  concurrency: number;
  durationMs: number;
  chunks: string[];
}): Promise<ReplicasResult[]> {
  const text = opts.chunks.join('');
  const inOrder = (body: string) => {
    let at = 0;
    for (const c of opts.chunks) {
      const found = body.indexOf(c, at);
      if (found < 0) return false;
      at = found + c.length;
    }
    return true;
  };
  const body = JSON.stringify({ model: 'claude-sonnet-4-5-20250929', max_tokens: 1024, stream: true, messages: [{ role: 'user', content: 'Say hello' }] });
  const out: ReplicasResult[] = [];
  for (const replicas of [1, 3]) {
    const stack = await startLocalStack({
      replicas,
      nginxBinary: opts.nginxBinary,
      simulator: { firstByteLatencyMs: 0, chunkDelayMs: 0, defaultChunks: opts.chunks.length, defaultText: text },
      env: { KIRO_METRICS_ENABLED: 'false' },
    });
    try {
      const headers = { 'content-type': 'application/json', 'x-api-key': stack.apiKey };
      await load(stack.url, '/v1/messages', headers, body, replicas, inOrder, 500);
      out.push({ replicas, concurrency: opts.concurrency, result: await load(stack.url, '/v1/messages', headers, body, opts.concurrency, inOrder, opts.durationMs) });
    } finally {
      await stack.close();
    }
  }
  return out;
}
