/**
 * Issue 11 §1–2: the k6 `smoke` profile against the local stack (redis-server, simulator, 3 gateway
 * replicas as the chart configures them, nginx with the Ingress' SSE settings), thresholds enforced
 * by k6 itself (exit 0). Also checks what k6's time to first byte measures here: the first read of a
 * stream through nginx already carries a text delta, so http_req_waiting is a time to first token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstRead } from '../../loadtest/stack/first-read.js';
import { runK6 } from '../../loadtest/stack/k6.js';
import { startLocalStack, type LocalStack } from '../../loadtest/stack/local-stack.js';
import { requireTool } from '../helpers/tools.js';

let stack: LocalStack;
let k6: string;

beforeAll(async () => {
  k6 = requireTool('k6', 'bash .ci/tools/40-k6.sh');
  stack = await startLocalStack({ replicas: 3, nginxBinary: requireTool('nginx', 'apt-get install nginx') });
}, 240_000);

afterAll(async () => {
  await stack?.close();
});

describe('k6 smoke profile on the local stack', () => {
  it('the first byte of a stream through nginx carries headers, message_start and the first text delta', async () => {
    for (const url of [stack.url, stack.replicas[0]!.url]) {
      const read = await firstRead(url, stack.apiKey);
      expect(read.text, url).toMatch(/^HTTP\/1\.1 200/);
      expect(read.events.slice(0, 3), url).toEqual(['message_start', 'content_block_start', 'content_block_delta']);
      expect(read.text).toMatch(/"type":"text_delta","text":"\S+/);
    }
  });

  it('passes its thresholds against 3 replicas behind nginx: no failed request, check or cut stream', async () => {
    const result = await runK6({ k6Binary: k6, profile: 'smoke', target: stack.url, apiKey: stack.apiKey, env: { K6_SIM_SCRIPTS: '1' }, quiet: true });
    expect(result.code, result.output.slice(-6000)).toBe(0);
    const m = result.summary.metrics;
    expect(m.http_req_failed.values.rate).toBe(0);
    expect(m.checks.values.fails).toBe(0);
    expect(m.streams_complete.values.count).toBeGreaterThan(40);
    expect(m.streams_cut?.values.count ?? 0).toBe(0);
    expect(m.dropped_iterations?.values.count ?? 0).toBe(0);
    // Every kind of traffic ran.
    const checks = new Set((result.summary.root_group.checks as Array<{ name: string; passes: number }>).filter((c) => c.passes > 0).map((c) => c.name));
    for (const name of ['tool_use returned', 'text after tool_result', 'thinking block present', 'json message with text', 'input_tokens > 0']) {
      expect(checks, name).toContain(name);
    }
    // Every replica served (least_conn over 3 upstreams).
    const served = await Promise.all(
      stack.replicas.map(async (r) => {
        const text = await (await fetch(`${r.url}/metrics`)).text();
        return [...text.matchAll(/^kiro_gateway_http_requests_total\{[^}]*\} (\d+)/gm)].reduce((s, x) => s + Number(x[1]), 0);
      }),
    );
    for (const n of served) expect(n).toBeGreaterThan(0);
  }, 120_000);
});
