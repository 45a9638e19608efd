/**
 * Koa middleware feeding the HTTP metrics of {@link GatewayMetrics} (request count, duration, client
 * disconnects), labelled with the matched route template.
 */
import { performance } from 'node:perf_hooks';
import type { Context, Middleware, Next } from 'koa';
import type { GatewayMetrics } from './metrics.js';
import { UNMATCHED_ROUTE, matchedRoute, responseStatus, whenResponseDone } from './logger.js';

/** Options of {@link createMetricsMiddleware}. */
export interface MetricsMiddlewareOptions {
  /** `route` label when no router route matched (default `unmatched`). */
  unmatchedRoute?: string;
}

/**
 * Koa middleware recording `http_requests_total` / `http_request_duration_seconds` with the
 * route template @koa/router matched (`ctx._matchedRoute`, else `unmatched`), and counting client
 * disconnects. Measures until `res` closes, so streamed responses (`ctx.respond = false`) are
 * timed to their end. Mount it outside the router and the error handler.
 */
export function createMetricsMiddleware(metrics: GatewayMetrics, opts: MetricsMiddlewareOptions = {}): Middleware {
  const unmatched = opts.unmatchedRoute ?? UNMATCHED_ROUTE;
  return function metricsMiddleware(ctx: Context, next: Next): Promise<void> {
    const startedAt = performance.now();
    return whenResponseDone(ctx.res, next, (end) => {
      const route = matchedRoute(ctx) ?? unmatched;
      metrics.recordHttpRequest(route, ctx.method, responseStatus(ctx, end), (end.endedAt - startedAt) / 1000);
      if (end.clientDisconnected) metrics.recordClientDisconnect();
    });
  };
}
