/**
 * What a cluster would run, on one machine: a real redis-server, the Kiro simulator with realistic
 * latency and token rate, N gateway processes configured as the Helm chart configures its pods
 * (Redis store, metrics on, readiness delay and grace period on SIGTERM), and nginx in front of them
 * with the Ingress' SSE settings. Used by `npm run loadtest`, the load tests and the bench.
 *
 * Replicas come and go like pods: `addReplica()` starts one and adds it to nginx once it listens;
 * `drainReplica()` removes it from nginx first, then sends SIGTERM (the kubelet's order after the
 * endpoint is gone), and waits for it to exit.
 */
import type { CredentialFileEntry } from '../../src/credentials/types.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { startRedis, type RedisServer, type RedisServerOptions } from '../../test/helpers/redis.js';
import { ensureBuilt, startReplica, type Replica } from '../../test/helpers/replicas.js';
import { API_KEY, ADMIN_KEY, refreshTokenFor, writeCredentials } from '../../test/helpers/stack.js';
import { startNginx, type Nginx } from './nginx.js';

/**
 * The pod settings charts/kiro-gateway renders (templates/configmap.yaml: KIRO_LOG_PRETTY,
 * KIRO_METRICS_PORT 0, KIRO_REDIS_KEY_PREFIX, KIRO_SHUTDOWN_*; KIRO_REDIS_URL in the Deployment),
 * with the shutdown times scaled down for a local run (the chart: 600 s grace, 5 s readiness delay).
 */
export const CHART_LIKE_ENV: Readonly<Record<string, string>> = {
  KIRO_LOG_PRETTY: 'false',
  KIRO_LOG_LEVEL: 'info',
  KIRO_METRICS_ENABLED: 'true',
  KIRO_METRICS_PORT: '0',
  KIRO_REDIS_KEY_PREFIX: 'kiro:',
  // nginx already dropped the replica when SIGTERM arrives (as the endpoint is gone before preStop ends).
  KIRO_SHUTDOWN_READINESS_DELAY_MS: '2000',
  // Longer than the longest stream a profile sends.
  KIRO_SHUTDOWN_GRACE_MS: '60000',
};

/** Simulator timing close to a real model: ~400 ms to the first token, then ~40 chunks/s. */
export const REALISTIC_SIMULATOR: Readonly<SimulatorOptions> = {
  firstByteLatencyMs: 400,
  chunkDelayMs: 25,
  defaultChunks: 40,
  defaultText:
    'Load test answer from the Kiro simulator. It streams in many small pieces at a steady rate, the way a model ' +
    'writes tokens, so that streams stay open for about a second and the gateway holds real concurrent streams.',
};

export interface LocalStackOptions {
  replicas: number;
  /** Credentials for credentials.json; default four social accounts. */
  credentials?: CredentialFileEntry[];
  simulator?: SimulatorOptions;
  redis?: RedisServerOptions;
  /** Extra KIRO_* settings for every replica. */
  env?: Record<string, string>;
  /** nginx binary (requireTool('nginx', …)). */
  nginxBinary: string;
}

export interface LocalStack {
  /** nginx: the single entry point clients use. */
  readonly url: string;
  readonly apiKey: string;
  readonly adminKey: string;
  readonly sim: Simulator;
  readonly redis: RedisServer;
  readonly nginx: Nginx;
  /** Replicas currently in the balancer (and running). */
  readonly replicas: readonly Replica[];
  readonly credentialsPath: string;
  readonly credentials: readonly CredentialFileEntry[];
  /** Starts one more replica and adds it to nginx. */
  addReplica(): Promise<Replica>;
  /** Removes `replica` (default: the newest) from nginx, then SIGTERM; resolves when it exited. */
  drainReplica(replica?: Replica): Promise<void>;
  /** SIGKILL `replica` without telling nginx (a crashed pod before its endpoint is removed). */
  killReplica(replica: Replica): Promise<void>;
  /** Replaces a dead replica in nginx by a fresh one (the Deployment recreating the pod). */
  replaceReplica(dead: Replica): Promise<Replica>;
  /** Stops everything; safe to call twice. */
  close(): Promise<void>;
}

export function defaultCredentials(n = 4): CredentialFileEntry[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, refreshToken: refreshTokenFor(`load-${i + 1}`), authMethod: 'social' as const }));
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
  };
  try {
    await ensureBuilt();
    const redis = await startRedis(opts.redis);
    cleanups.push(() => redis.stop());
    const sim = await createSimulator({ ...REALISTIC_SIMULATOR, recentRequests: 0, ...opts.simulator });
    cleanups.push(() => sim.close());
    const credentials = opts.credentials ?? defaultCredentials();
    const credentialsPath = writeCredentials(credentials);

    let serial = 0;
    const live: Replica[] = [];
    const spawnOne = () =>
      startReplica({
        name: `gw${serial++}`,
        simUrl: sim.url,
        credentialsPath,
        redisUrl: redis.url,
        env: { ...CHART_LIKE_ENV, ...opts.env },
        // A pod's startupProbe allows long starts too; on a busy shared machine node takes a while.
        startTimeoutMs: 90_000,
      });
    const first = await Promise.all(Array.from({ length: opts.replicas }, spawnOne));
    live.push(...first);
    cleanups.push(() => Promise.all(live.map((r) => r.kill9())));

    const nginx = await startNginx(opts.nginxBinary, live.map((r) => r.url));
    cleanups.push(() => nginx.stop());
    const sync = () => nginx.setUpstreams(live.map((r) => r.url));

    const stack: LocalStack = {
      url: nginx.url,
      apiKey: API_KEY,
      adminKey: ADMIN_KEY,
      sim,
      redis,
      nginx,
      get replicas() {
        return live;
      },
      credentialsPath,
      credentials,
      async addReplica() {
        const r = await spawnOne();
        live.push(r);
        await sync();
        return r;
      },
      async drainReplica(replica = live[live.length - 1]) {
        if (!replica) return;
        const i = live.indexOf(replica);
        if (i >= 0) live.splice(i, 1);
        await sync();
        await replica.stop(Number(CHART_LIKE_ENV.KIRO_SHUTDOWN_GRACE_MS) + 5_000);
      },
      async killReplica(replica) {
        await replica.kill9();
      },
      async replaceReplica(dead) {
        const r = await spawnOne();
        const i = live.indexOf(dead);
        if (i >= 0) live[i] = r;
        else live.push(r);
        await sync();
        return r;
      },
      close,
    };
    return stack;
  } catch (err) {
    await close();
    throw err;
  }
}
