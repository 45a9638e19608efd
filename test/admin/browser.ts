/**
 * Shared by the admin UI browser tests: the UI build check and headless Chromium (Debian's
 * /usr/bin/chromium driven by playwright-core; never a downloaded browser).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../../src/admin/static.js';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = packageRoot();
const UI_DIR = path.join(ROOT, 'admin-ui');
const DIST_INDEX = path.join(UI_DIR, 'dist', 'index.html');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds the UI when dist is missing or older than its sources, so a test never runs a stale UI. */
export function ensureUiBuilt(): void {
  const sourcesMtime = Math.max(
    newestMtime(path.join(UI_DIR, 'src')),
    statSync(path.join(UI_DIR, 'index.html')).mtimeMs,
    statSync(path.join(UI_DIR, 'vite.config.ts')).mtimeMs,
  );
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= sourcesMtime) return;
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'admin-ui/vite.config.ts', '--logLevel', 'warn'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`admin UI build failed:\n${result.stdout}\n${result.stderr}`);
}

/** Launches headless Chromium; throws with a hint when the Debian package is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A desktop-sized page with a 10 s default timeout. */
export async function newAdminPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
  page.setDefaultTimeout(10_000);
  return page;
}

/** Path of a file in test-artifacts/, creating the directory. */
export function artifactPath(name: string): string {
  const dir = path.join(ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

/** Dismisses every notice so screenshots show the list alone. */
export async function dismissNotices(page: Page): Promise<void> {
  const notices = page.locator('.notice button');
  while ((await notices.count()) > 0) await notices.first().click();
}
