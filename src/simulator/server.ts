/**
 * Routing of the simulator's HTTP server, and its control endpoints under `/__sim/`.
 * Like Koa's `callback()`, `createHandler` returns a plain `(req, res)` function and binds no port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJson, readBody, sendJson, type Exchange, type SimContext } from './context.js';
import { handleListModels, handleMcp, handleRefresh, handleUsage } from './endpoints.js';
import { handleGenerate } from './generate.js';
import type { AccountBehaviour } from './types.js';
import { rootOperation } from './wire.js';

/** Control operations the `/__sim/` endpoints expose (the same as the Simulator object's methods). */
export interface SimControl {
  reset(): void;
  setAccount(refreshToken: string, behaviour: AccountBehaviour): void;
}

function isAccountEntry(v: unknown): v is { refreshToken: string; behaviour?: AccountBehaviour } {
  return typeof v === 'object' && v !== null && typeof (v as { refreshToken?: unknown }).refreshToken === 'string';
}

async function route(ctx: SimContext, control: SimControl, ex: Exchange): Promise<void> {
  const { req, res, path } = ex;
  const method = req.method;
  if (method === 'POST') {
    switch (path) {
      case '/generateAssistantResponse':
        return handleGenerate(ctx, ex, 'ide');
      case '/': {
        // The cli wire (AWS JSON 1.0): the operation is named by x-amz-target, not the path.
        if (rootOperation(req.headers) === 'cli') return handleGenerate(ctx, ex, 'cli');
        req.resume();
        const target = req.headers['x-amz-target'];
        return sendJson(res, 400, { __type: 'UnknownOperationException', message: `Unknown operation ${String(target ?? '(no x-amz-target)')}` });
      }
      case '/refreshToken':
        return handleRefresh(ctx, ex, 'social');
      case '/token':
        return handleRefresh(ctx, ex, 'idc');
      case '/mcp':
        return handleMcp(ctx, ex);
      case '/__sim/reset':
        await readBody(req);
        control.reset();
        res.writeHead(204).end();
        return;
      case '/__sim/accounts': {
        const parsed = parseJson((await readBody(req)).bytes);
        const entries = parsed.ok ? (Array.isArray(parsed.value) ? parsed.value : [parsed.value]) : [];
        if (entries.length === 0 || !entries.every(isAccountEntry)) {
          return sendJson(res, 400, { message: 'expected {refreshToken, behaviour} or an array of them' });
        }
        for (const entry of entries) control.setAccount(entry.refreshToken, entry.behaviour ?? {});
        res.writeHead(204).end();
        return;
      }
    }
  } else if (method === 'GET') {
    if (path === '/getUsageLimits') return handleUsage(ctx, ex);
    if (path === '/ListAvailableModels') return handleListModels(ctx, ex);
    if (path === '/__sim/stats') return sendJson(res, 200, ctx.stats);
  }
  req.resume();
  sendJson(res, 404, { message: `No route for ${method} ${path}`, reason: null });
}

/** The request listener of the simulator's server. */
export function createHandler(ctx: SimContext, control: SimControl): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const ex: Exchange = { req, res, path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1) };
    // A client that vanishes mid-request makes these emit errors nobody else listens to.
    req.on('error', () => {});
    res.on('error', () => {});
    route(ctx, control, ex).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        sendJson(res, 500, { message: `simulator error: ${(err as Error)?.message ?? String(err)}`, reason: null });
      } else {
        res.destroy();
      }
    });
  };
}
