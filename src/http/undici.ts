/**
 * undici's dispatchers and its `request` API, loaded from their own files instead of the package's
 * index. The index also loads fetch, WebSocket, caches, mocks and interceptors (110 modules), and
 * its web parts read the global `File` and `Headers`, which makes Node load its own bundled copy of
 * undici as well: 4.6 MB of V8 heap for the life of every replica, against 1.7 MB for the 35 files
 * the gateway calls (bench/README.md, "What the peak RSS under load is made of").
 *
 * undici has no `exports` map, so these paths are reachable, but they are its internal layout:
 * test/http/undici.test.ts checks that they are the index's own classes, that `request` behaves as
 * the index's, and that loading this module leaves Node's bundled undici unloaded, so an undici
 * upgrade that moves a file fails there. Types come from the package's declarations.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const load = createRequire(import.meta.url);

export const Agent: typeof Undici.Agent = load('undici/lib/dispatcher/agent.js');
export const ProxyAgent: typeof Undici.ProxyAgent = load('undici/lib/dispatcher/proxy-agent.js');
export const Socks5ProxyAgent: typeof Undici.Socks5ProxyAgent = load('undici/lib/dispatcher/socks5-proxy-agent.js');
export type { Dispatcher } from 'undici';
export type AgentOptions = Undici.Agent.Options;

// The index also puts the request API (request, stream, pipeline, connect, upgrade) on every
// dispatcher's prototype, and undici's own proxy agents call it (`connect`); done here the same way.
const DispatcherBase: { prototype: object } = load('undici/lib/dispatcher/dispatcher.js');
Object.assign(DispatcherBase.prototype, load('undici/lib/api/index.js'));

export type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  method: Undici.Dispatcher.HttpMethod;
  dispatcher: Undici.Dispatcher;
};

/**
 * undici's `request(url, options)` for a call with its own dispatcher (every call here has one: the
 * credential's direct or proxy agent), without the index's global dispatcher.
 */
export function request(url: string | URL, opts: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = opts;
  const target = typeof url === 'string' ? new URL(url) : url;
  return dispatcher.request({ ...rest, origin: target.origin, path: `${target.pathname}${target.search}` });
}
