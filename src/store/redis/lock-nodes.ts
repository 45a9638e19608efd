/**
 * The Redis connections the refresh lock runs on: the store's own command connection by default, or
 * one connection per `redis.lockNodes` URL — independent masters, of which Redlock needs a majority.
 */
import { createRedisClient, preloadScripts, quitClient, type CommandTracker, type LuaScript, type RedisClient, type RedisConnectionOptions } from './connection.js';
import type { StoreLog } from './mirror.js';

/** The lock's connections, and their life cycle when they are the lock's own. */
export class LockNodes {
  readonly clients: readonly RedisClient[];
  /** True when the lock runs on the store's connection (no lockNodes): its outages are the store's. */
  readonly shared: boolean;

  constructor(
    storeClient: RedisClient,
    urls: readonly string[],
    connection: Pick<RedisConnectionOptions, 'redisOptions' | 'commandTimeoutMs'>,
    private readonly tracker: CommandTracker,
    private readonly log: StoreLog,
  ) {
    this.shared = urls.length === 0;
    this.clients = this.shared ? [storeClient] : urls.map((url) => createRedisClient({ ...connection, url }, 'lock'));
  }

  /**
   * Connects the lock's own nodes and loads `scripts` on each whenever it (re)connects. Waits up to
   * `timeoutMs` for a majority, but starts without one: refreshes then run under a local lock only
   * (logged) until a majority is back, rather than the gateway refusing to start.
   */
  async connect(scripts: readonly LuaScript[], timeoutMs: number): Promise<void> {
    if (this.shared) return;
    const majority = Math.floor(this.clients.length / 2) + 1;
    let ready = 0;
    const reachedMajority = new Promise<void>((resolve) => {
      for (const [index, client] of this.clients.entries()) {
        client.on('error', (err: Error) => this.log('debug', 'refresh lock node error', { node: index, error: err.message }));
        client.on('ready', () => {
          this.tracker.run('script:load', () => preloadScripts(client, scripts)).catch((err: unknown) => {
            this.log('debug', 'refresh lock node: script load failed', { node: index, error: String(err) });
          });
        });
        client.once('ready', () => {
          if (++ready === majority) resolve();
        });
        client.connect().catch(() => {}); // retried by the client's retryStrategy; errors reach the listener above
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
    const late = await Promise.race([reachedMajority.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.log('warn', 'refresh lock: no majority of redis.lockNodes reachable at start; refreshing under a local lock only until there is', {
        nodes: this.clients.length,
        reachable: ready,
      });
    }
  }

  async close(): Promise<void> {
    if (this.shared) return;
    await Promise.all(this.clients.map(quitClient));
  }
}
