/**
 * The HPA played for real on the local stack (`npm run loadtest -- scale` and
 * test/loadtest/hpa-play.test.ts). A controller loop does what kube-controller-manager and
 * prometheus-adapter do together: every sync period it reads `kiro_gateway_inflight_streams` from
 * each ready replica's /metrics, applies the autoscaling/v2 decision with the chart's `behavior`
 * (charts/kiro-gateway/values.yaml, every time divided by `timeFactor`), then acts like the
 * Deployment and the kubelet: new replicas join nginx once they listen; on scale-down the newest
 * replica leaves nginx first and then gets SIGTERM (drain: open streams finish).
 *
 * Meanwhile k6 (loadtest/scale.js) ramps long streams up and down, and the access tokens of both
 * credentials are expired twice (once at the peak, once while replicas leave), so refreshes happen
 * across a changing replica set. The report holds the timeline, the counts to assert and a picture.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CredentialFileEntry } from '../../src/credentials/types.js';
import { adminCredentials, sha256, type AdminCredential, type Replica } from '../../test/helpers/replicas.js';
import { refreshTokenFor } from '../../test/helpers/stack.js';
import { HpaController, scaleTime, type HpaSpec } from './hpa-controller.js';
import { chartHpaSpec } from './hpa-values.js';
import { DEFAULT_RESULTS_DIR, runK6, type K6Result } from './k6.js';
import { startLocalStack, type LocalStack } from './local-stack.js';
import { renderTimeseriesSvg, writeSvgAndPng } from './timeseries-chart.js';

export interface HpaPlayOptions {
  k6Binary: string;
  nginxBinary: string;
  /** Renders the PNG next to the SVG when given. */
  chromiumPath?: string;
  /** Real seconds = chart seconds / timeFactor (default 60: the 600 s window lasts 10 s, a 15 s sync 250 ms). */
  timeFactor?: number;
  /** Default 1 (the chart says 2), so the play shows 1 → N → 1. */
  minReplicas?: number;
  /**
   * The chart's targetPerPod is divided by this (default 2.5: 50 → 20 streams per pod), because one
   * shared 2-core machine cannot hold the 500 streams that 10 pods at 50 would mean.
   */
  loadFactor?: number;
  /** false: k6's timing thresholds (TTFB, duration) are lifted, for tests on a noisy machine; correctness thresholds stay. */
  timingThresholds?: boolean;
  resultsDir?: string;
  /** k6 output live on stdout (default) or only collected. */
  quiet?: boolean;
  signal?: AbortSignal;
}

export interface HpaSample {
  /** Seconds since the start of the load. */
  t: number;
  /** Replicas the HPA asks for. */
  desired: number;
  /** Replicas in nginx (ready). */
  ready: number;
  /** Sum of kiro_gateway_inflight_streams over ready replicas. */
  inflight: number;
  recommendation: number;
}

export interface HpaPlayReport {
  spec: HpaSpec;
  timeFactor: number;
  loadFactor: number;
  timeline: HpaSample[];
  /** Distinct consecutive desired counts, e.g. [1, 2, 4, 3, 2, 1]. */
  replicaSteps: number[];
  peakReplicas: number;
  finalReplicas: number;
  k6Code: number;
  requests: number;
  failedRequests: number;
  streamsComplete: number;
  streamsCleanError: number;
  streamsCut: number;
  expiries: number[];
  /** Refresh calls the simulator saw, per credential id. */
  refreshes: Record<number, number>;
  expectedRefreshesPerCredential: number;
  /** Per credential: successCount as the last replica and a replica started after the run see it. */
  credentialViews: Array<{ replica: string; byId: Record<number, Pick<AdminCredential, 'successCount' | 'failureCount' | 'disabled' | 'refreshTokenHash'>> }>;
  /** Successful upstream calls the simulator answered with a stream, all replicas together. */
  successfulUpstreamCalls: number;
  /** Replica starts that timed out and were retried (a busy machine, not a gateway defect). */
  podStartFailures: number;
  problems: string[];
  files: { json: string; svg: string; png?: string; k6Summary: string };
}

const STREAM_CHUNKS = 40;
const CHUNK_DELAY_MS = 100;
/** Token expiries, seconds after the first request: at the peak, and while replicas leave. */
const EXPIRE_AT_S = [20, 38];
const NO_TIMING_THRESHOLDS = { K6_TTFB_P95_MS: '600000', K6_TTFB_P99_MS: '600000', K6_DURATION_P99_MS: '600000' };
const SETTLE_TIMEOUT_MS = 60_000;

async function inflightOf(r: Replica): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${r.url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    const m = /^kiro_gateway_inflight_streams(?:\{[^}]*\})? (\S+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Per-second request rate and per-2-s TTFB p99 of streams, from k6's CSV samples. */
function seriesFromCsv(path: string, t0: number): { rps: Array<[number, number]>; ttfbP99: Array<[number, number]> } {
  const lines = readFileSync(path, 'utf8').split('\n');
  const header = lines[0]!.split(',');
  const col = (name: string) => header.indexOf(name);
  const [iName, iTime, iValue, iTags] = [col('metric_name'), col('timestamp'), col('metric_value'), col('extra_tags')];
  const reqs = new Map<number, number>();
  const waits = new Map<number, number[]>();
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const f = line.split(',');
    const name = f[iName];
    if (name !== 'http_reqs' && name !== 'http_req_waiting') continue;
    const t = (Number(f[iTime]) - t0) / 1000;
    if (name === 'http_reqs') reqs.set(Math.floor(t), (reqs.get(Math.floor(t)) ?? 0) + 1);
    else if ((f[iTags] ?? '').includes('kind=stream')) {
      const b = Math.floor(t / 2) * 2;
      const list = waits.get(b) ?? [];
      list.push(Number(f[iValue]));
      waits.set(b, list);
    }
  }
  const rps = [...reqs.entries()].sort((a, b) => a[0] - b[0]).map(([t, n]): [number, number] => [t + 0.5, n]);
  const ttfbP99 = [...waits.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, list]): [number, number] => {
      list.sort((a, b) => a - b);
      return [t + 1, list[Math.min(list.length - 1, Math.ceil(list.length * 0.99) - 1)]!];
    });
  return { rps, ttfbP99 };
}

function steps(values: number[]): number[] {
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

export async function runHpaPlay(opts: HpaPlayOptions): Promise<HpaPlayReport> {
  const timeFactor = opts.timeFactor ?? 60;
  const chart = chartHpaSpec();
  const loadFactor = opts.loadFactor ?? 2.5;
  const spec = scaleTime({ ...chart, minReplicas: opts.minReplicas ?? 1, targetPerPod: chart.targetPerPod / loadFactor }, timeFactor);
  const syncMs = (15 / timeFactor) * 1000;
  const resultsDir = opts.resultsDir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(resultsDir, { recursive: true });
  const csvPath = join(resultsDir, 'scale-samples.csv');

  const credentials: CredentialFileEntry[] = [1, 2].map((id) => ({
    id,
    refreshToken: refreshTokenFor(`scale-${id}`),
    authMethod: 'social' as const,
    expiresAt: new Date(Date.now() - 60_000).toISOString(),
  }));
  const stack: LocalStack = await startLocalStack({
    replicas: spec.minReplicas,
    nginxBinary: opts.nginxBinary,
    credentials,
    simulator: { rotateRefreshTokens: true },
    env: { KIRO_LOAD_BALANCING_MODE: 'balanced' },
  });
  const problems: string[] = [];
  const timeline: HpaSample[] = [];
  const expiries: number[] = [];
  let k6: K6Result | undefined;
  try {
    const hpa = new HpaController(spec);
    let desired = stack.replicas.length;
    const pending = new Set<Promise<unknown>>();
    const track = (p: Promise<unknown>) => {
      const q = p.catch((err: unknown) => problems.push(`replica operation failed: ${(err as Error).message.slice(0, 300)}`));
      pending.add(q);
      void q.finally(() => pending.delete(q));
    };
    let podStartFailures = 0;
    // Pods not ready yet; on scale-down the ReplicaSet deletes those first (`cancelled` of them).
    let pendingStarts = 0;
    let cancelled = 0;
    // A pod that does not come up is replaced, as a ReplicaSet does (the machine may be very busy).
    const startWithRetry = async (): Promise<void> => {
      pendingStarts++;
      let replica: Replica | undefined;
      try {
        for (let attempt = 1; !replica; attempt++) {
          try {
            replica = await stack.addReplica();
          } catch (err) {
            podStartFailures++;
            if (attempt >= 3) throw err;
          }
        }
      } finally {
        pendingStarts--;
      }
      if (cancelled > 0) {
        cancelled--;
        await stack.drainReplica(replica);
      }
    };
    const t0 = Date.now();
    let k6Done = false;
    const k6Run = runK6({
      k6Binary: opts.k6Binary,
      profile: 'scale',
      target: stack.url,
      apiKey: stack.apiKey,
      resultsDir,
      csvOut: csvPath,
      quiet: opts.quiet,
      signal: opts.signal,
      env: {
        K6_SIM_SCRIPTS: '1',
        K6_STREAM_CHUNKS: String(STREAM_CHUNKS),
        K6_CHUNK_DELAY_MS: String(CHUNK_DELAY_MS),
        K6_CSV_TIME_FORMAT: 'unix_milli',
        K6_LOG_PROBLEMS: '1',
        ...(opts.timingThresholds === false ? NO_TIMING_THRESHOLDS : {}),
      },
    }).then((r) => {
      k6Done = true;
      return r;
    });
    let loadStart: number | undefined;

    let settleDeadline = Number.POSITIVE_INFINITY;
    while (!opts.signal?.aborted) {
      const t = (Date.now() - t0) / 1000;
      if (loadStart === undefined && stack.sim.stats.generate > 0) loadStart = t;
      if (loadStart !== undefined && expiries.length < EXPIRE_AT_S.length && t - loadStart >= EXPIRE_AT_S[expiries.length]!) {
        stack.sim.expireAccessTokens();
        expiries.push(t);
      }
      const ready = [...stack.replicas];
      const metrics = (await Promise.all(ready.map(inflightOf))).filter((v): v is number => v !== undefined);
      const decision = hpa.decide(desired, metrics, t);
      if (decision.desired > desired) {
        for (let k = desired; k < decision.desired; k++) track(startWithRetry());
      } else if (decision.desired < desired) {
        // The ReplicaSet removes pods that are not ready first, then the youngest ready ones.
        const remove = desired - decision.desired;
        const fromPending = Math.min(remove, pendingStarts - cancelled);
        cancelled += fromPending;
        if (remove > fromPending) for (const r of ready.slice(-(remove - fromPending))) track(stack.drainReplica(r));
      }
      desired = decision.desired;
      timeline.push({ t, desired, ready: ready.length, inflight: metrics.reduce((s, v) => s + v, 0), recommendation: decision.recommendation });
      if (k6Done) {
        if (settleDeadline === Number.POSITIVE_INFINITY) settleDeadline = Date.now() + SETTLE_TIMEOUT_MS;
        if ((desired === spec.minReplicas && pending.size === 0) || Date.now() > settleDeadline) break;
      }
      await new Promise((r) => setTimeout(r, syncMs));
    }
    k6 = await k6Run;
    writeFileSync(join(resultsDir, 'scale-k6.log'), k6.output);
    await Promise.all([...pending]);

    // Counters: the surviving replica and one started now (reads everything from Redis) must agree.
    const extra = await stack.addReplica();
    const views = await Promise.all(stack.replicas.map(async (r) => ({ replica: r.name, creds: await adminCredentials(r.url) })));
    let lastViews = views;
    const deadline = Date.now() + 10_000;
    const key = (v: typeof views) => v.map((x) => JSON.stringify([...x.creds.values()].map((c) => [c.id, c.successCount, c.failureCount, c.refreshTokenHash]))).join('|');
    while (new Set(key(lastViews).split('|')).size > 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      lastViews = await Promise.all(stack.replicas.map(async (r) => ({ replica: r.name, creds: await adminCredentials(r.url) })));
    }
    await stack.drainReplica(extra);

    const m = k6.summary?.metrics ?? {};
    const count = (name: string) => Number(m[name]?.values?.count ?? 0);
    const requests = count('http_reqs');
    const failedRequests = Number(m.http_req_failed?.values?.passes ?? 0);
    const refreshes: Record<number, number> = {};
    for (const c of credentials) refreshes[c.id!] = stack.sim.stats.byAccount[c.refreshToken!]?.refresh ?? 0;
    const expected = 1 + expiries.length;
    const credentialViews = lastViews.map((v) => ({
      replica: v.replica,
      byId: Object.fromEntries(
        [...v.creds.values()].map((c) => [c.id, { successCount: c.successCount, failureCount: c.failureCount, disabled: c.disabled, refreshTokenHash: c.refreshTokenHash }]),
      ),
    }));
    const successfulUpstreamCalls = stack.sim.stats.streamsCompleted;

    const desiredSeries = timeline.map((s) => s.desired);
    const report: HpaPlayReport = {
      spec,
      timeFactor,
      loadFactor,
      timeline,
      replicaSteps: steps(desiredSeries),
      peakReplicas: Math.max(...desiredSeries),
      finalReplicas: desired,
      k6Code: k6.code,
      requests,
      failedRequests,
      streamsComplete: count('streams_complete'),
      streamsCleanError: count('streams_clean_error'),
      streamsCut: count('streams_cut'),
      expiries,
      refreshes,
      expectedRefreshesPerCredential: expected,
      credentialViews,
      successfulUpstreamCalls,
      podStartFailures,
      problems,
      files: { json: join(resultsDir, 'scale-report.json'), svg: join(resultsDir, 'scale.svg'), k6Summary: k6.summaryPath },
    };
    const peakReady = Math.max(...timeline.map((x) => x.ready));
    if (peakReady < 3) problems.push(`at most ${peakReady} replicas were ready at once: the scale-up never served`);
    if (report.replicaSteps[0] !== spec.minReplicas || report.finalReplicas !== spec.minReplicas || report.peakReplicas < 3) {
      problems.push(`replicas did not go ${spec.minReplicas} → N≥3 → ${spec.minReplicas}: ${report.replicaSteps.join(' → ')}`);
    }
    if (k6.code !== 0) problems.push(`k6 exited ${k6.code} (a threshold failed)`);
    if (failedRequests !== 0) problems.push(`${failedRequests} failed requests`);
    if (report.streamsCut !== 0) problems.push(`${report.streamsCut} streams cut without message_stop or SSE error`);
    if (report.streamsComplete + report.streamsCleanError !== requests) problems.push(`${requests} requests but ${report.streamsComplete + report.streamsCleanError} finished streams`);
    for (const [id, n] of Object.entries(refreshes)) if (n !== expected) problems.push(`credential ${id}: ${n} refreshes, expected ${expected} (1 + one per expiry)`);
    const firstView = JSON.stringify(credentialViews[0]?.byId);
    for (const v of credentialViews) if (JSON.stringify(v.byId) !== firstView) problems.push(`replica ${v.replica} sees other credential counters: ${JSON.stringify(v.byId)} vs ${firstView}`);
    const successTotal = Object.values(credentialViews[0]?.byId ?? {}).reduce((s, c) => s + c.successCount, 0);
    if (successTotal !== report.streamsComplete) problems.push(`successCount over credentials ${successTotal} ≠ ${report.streamsComplete} complete streams`);
    for (const [id, c] of Object.entries(credentialViews[0]?.byId ?? {})) {
      if (c.disabled) problems.push(`credential ${id} disabled`);
      const original = credentials.find((x) => String(x.id) === id)!.refreshToken!;
      if (c.refreshTokenHash === sha256(original)) problems.push(`credential ${id} still holds its first refresh token after ${expected} refreshes`);
    }

    const csv = seriesFromCsv(csvPath, t0);
    const svg = renderTimeseriesSvg(
      `HPA play — chart behavior, time ÷ ${timeFactor}, target ${spec.targetPerPod}/pod: ${report.replicaSteps.join('→')} replicas, ${requests} streams, ${failedRequests} failed, ${report.streamsCut} cut`,
      [
        {
          title: 'Replicas',
          series: [
            { label: 'desired (HPA)', color: '#1f77b4', step: true, points: timeline.map((s) => [s.t, s.desired]) },
            { label: 'ready (in nginx)', color: '#2ca02c', step: true, points: timeline.map((s) => [s.t, s.ready]) },
          ],
        },
        {
          title: 'In-flight streams (sum over replicas)',
          series: [{ label: 'inflight_streams', color: '#ff7f0e', points: timeline.map((s) => [s.t, s.inflight]) }],
          reference: { value: spec.targetPerPod, label: `target ${spec.targetPerPod}/pod` },
        },
        { title: 'Requests started per second (k6)', unit: 'req/s', series: [{ label: 'req/s', color: '#9467bd', points: csv.rps }] },
        {
          title: 'Time to first byte p99 (2 s buckets)',
          unit: 'ms',
          series: [{ label: 'TTFB p99', color: '#d62728', points: csv.ttfbP99 }],
        },
      ],
    );
    if (opts.chromiumPath) {
      report.files.png = join(resultsDir, 'scale.png');
      await writeSvgAndPng(svg, report.files.svg, report.files.png, opts.chromiumPath);
    } else writeFileSync(report.files.svg, svg);
    writeFileSync(report.files.json, JSON.stringify(report, null, 2));
    return report;
  } finally {
    writeFileSync(join(resultsDir, 'scale-nginx-error.log'), stack.nginx.errorLog());
    await stack.close();
  }
}

/** Prints the report as two tables. */
export function printHpaReport(r: HpaPlayReport, write: (s: string) => void = (s) => process.stdout.write(s)): void {
  const rows: Array<[string, string]> = [
    ['replicas over time', r.replicaSteps.join(' → ')],
    ['peak / final replicas', `${r.peakReplicas} / ${r.finalReplicas}`],
    ['streams (k6 requests)', String(r.requests)],
    ['failed requests', String(r.failedRequests)],
    ['streams complete / clean SSE error / cut', `${r.streamsComplete} / ${r.streamsCleanError} / ${r.streamsCut}`],
    ['token expiries (s)', r.expiries.map((t) => t.toFixed(1)).join(', ')],
    ['refreshes per credential (expected)', `${Object.entries(r.refreshes).map(([id, n]) => `#${id}: ${n}`).join(', ')} (${r.expectedRefreshesPerCredential})`],
    ['credential counters (successCount)', r.credentialViews.map((v) => `${v.replica}: ${Object.entries(v.byId).map(([id, c]) => `#${id}=${c.successCount}`).join(' ')}`).join('; ')],
    ['k6 exit code', String(r.k6Code)],
    ['replica starts retried (busy machine)', String(r.podStartFailures)],
    ['picture', r.files.png ?? r.files.svg],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  write(`\nHPA play (chart behavior, time ÷ ${r.timeFactor}, target ${r.spec.targetPerPod} streams/pod = chart ÷ ${r.loadFactor})\n`);
  for (const [k, v] of rows) write(`  ${k.padEnd(w)}  ${v}\n`);
  write(r.problems.length === 0 ? '  result: all assertions hold\n' : `  PROBLEMS:\n${r.problems.map((p) => `    - ${p}`).join('\n')}\n`);
}
