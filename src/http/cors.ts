/**
 * CORS as kiro.rs allows it: any origin, method and header (browser clients such as the admin UI
 * or web apps). The preflight is answered by server.ts; these headers go on every answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** `access-control-allow-origin` (the request's origin, else `*`) and `vary: origin`. */
export function setCorsHeaders(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  res.setHeader('access-control-allow-origin', typeof origin === 'string' && origin !== '' ? origin : '*');
  res.setHeader('vary', 'origin');
}
