/**
 * Serves the built admin UI (admin-ui/dist) at `/admin` and `/admin/*`, with a single-page-app
 * fallback to index.html. The UI only talks to `/api/admin`, so this is plain file serving.
 */
import { createReadStream, existsSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import { ApiError, InvalidRequestError, NotFoundError } from '../errors.js';

export const ADMIN_UI_PATH = '/admin';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite puts content-hashed files here; their URL changes with their content, so cache forever. */
const HASHED_ASSETS_DIR = 'assets';
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The UI needs nothing but its own origin. Inline styles are allowed for React `style` props.
 * (Vite's production build has no inline scripts.)
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

const MISSING_BUILD_MESSAGE =
  'The admin UI has not been built (admin-ui/dist is missing). Run `npm run build` ' +
  '(or `npx vite build --config admin-ui/vite.config.ts`) and restart.';

/**
 * The package root: the nearest directory above this file holding package.json. Works from
 * `src/admin` (vitest, tsx) and from `dist/src/admin` (after tsc).
 */
export function packageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
}

export interface ServeAdminUiOptions {
  /** Directory of the built UI; default `<package root>/admin-ui/dist`. */
  distDir?: string;
}

async function fileStats(file: string): Promise<Stats | undefined> {
  try {
    const s = await stat(file);
    return s.isFile() ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Koa middleware serving the admin UI. Requests outside `/admin` pass through untouched.
 * Paths are decoded, normalized and checked to stay inside the build directory. Failures are
 * thrown as gateway errors, so the app answers them in Anthropic's error shape.
 */
export function serveAdminUi(options: ServeAdminUiOptions = {}): Middleware {
  const distDir = path.resolve(options.distDir ?? path.join(packageRoot(), 'admin-ui', 'dist'));
  const indexFile = path.join(distDir, 'index.html');

  return async (ctx, next) => {
    const p = ctx.path;
    if (p !== ADMIN_UI_PATH && !p.startsWith(`${ADMIN_UI_PATH}/`)) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      // As the admin API does for a known path with the wrong method: Anthropic's 404 naming the methods.
      ctx.set('Allow', 'GET, HEAD');
      throw new NotFoundError(`${ctx.method} is not supported on ${ADMIN_UI_PATH}; use GET or HEAD`);
    }

    let relative: string;
    try {
      relative = decodeURIComponent(p.slice(ADMIN_UI_PATH.length));
    } catch {
      throw new InvalidRequestError('Bad percent-encoding in the admin UI path');
    }
    if (relative.includes('\0') || relative.includes('\\')) throw new InvalidRequestError('Bad admin UI path');
    // Normalizing against a virtual root drops every `..` that would climb above it.
    const normalized = path.posix.normalize(`/${relative}`).slice(1);
    const target = path.resolve(distDir, normalized);
    if (target !== distDir && !target.startsWith(distDir + path.sep)) throw new NotFoundError('Not found in the admin UI');

    const asset = normalized === '' ? undefined : await fileStats(target);
    const file = asset ? target : indexFile;
    const stats = asset ?? (await fileStats(indexFile));
    if (!stats) throw new ApiError(MISSING_BUILD_MESSAGE);
    // A missing hashed asset is a stale page asking for an old build: a 404 says so, index.html would not.
    if (!asset && normalized.startsWith(`${HASHED_ASSETS_DIR}/`)) {
      throw new NotFoundError(`Admin UI asset ${normalized} not found (the page is from an older build: reload it)`);
    }

    const ext = path.extname(file).toLowerCase();
    ctx.type = CONTENT_TYPES[ext] ?? 'application/octet-stream';
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (file === indexFile) {
      ctx.set('Cache-Control', 'no-cache');
      ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      ctx.set('X-Frame-Options', 'DENY');
    } else {
      ctx.set('Cache-Control', normalized.startsWith(`${HASHED_ASSETS_DIR}/`) ? IMMUTABLE : 'no-cache');
    }
    ctx.lastModified = stats.mtime;
    ctx.etag = `W/"${stats.size.toString(16)}-${stats.mtimeMs.toString(16)}"`;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.length = stats.size;
    // Koa answers HEAD without a body; opening the file would only leak a descriptor.
    if (ctx.method === 'GET') ctx.body = createReadStream(file);
  };
}
