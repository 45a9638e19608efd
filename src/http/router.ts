import Router, { type RouterOptions } from '@koa/router';

/**
 * Every router of the gateway: case-sensitive and strict about trailing slashes, so a route
 * matches exactly the path the authentication middleware and the canonical-path check see
 * (@koa/router matches case-insensitively by default, while its `use` middleware does not).
 */
export function createRouter(options: Omit<RouterOptions, 'sensitive' | 'strict'> = {}): Router {
  return new Router({ ...options, sensitive: true, strict: true });
}
