/**
 * The admin UI in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no
 * browser download) against the real admin router, static middleware and memory store.
 */
import { statSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryCredentialStore } from '../../src/store/memory/memory-store.js';
import { artifactPath, dismissNotices, ensureUiBuilt, launchBrowser, newAdminPage } from './browser.js';
import { ADMIN_KEY, adminApp, createStore, fakeDeps, listen, longToken, type TestServer } from './helpers.js';

const SCREENSHOT = artifactPath('admin-credentials.png');

let server: TestServer;
let store: MemoryCredentialStore;
let browser: Browser;
let page: Page;
let getMode: () => string;

beforeAll(async () => {
  ensureUiBuilt();
  store = await createStore([
    {
      id: 1,
      authMethod: 'social',
      refreshToken: longToken('UI-FAIL-ONE'),
      expiresAt: new Date(Date.now() + 3 * 3600_000).toISOString(),
      priority: 0,
      machineId: 'c'.repeat(64),
      email: 'first@example.com',
      disabled: false,
      stats: { successCount: 12, failureTotal: 1, lastUsedAt: new Date(Date.now() - 60_000).toISOString() },
    },
  ]);
  const { deps } = fakeDeps(store);
  getMode = () => deps.getMode();
  server = await listen(adminApp(deps));
  browser = await launchBrowser();
  page = await newAdminPage(browser);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('admin UI', () => {
  it('shows an error for a wrong key', async () => {
    await page.goto(`${server.url}/admin/`);
    await page.getByTestId('login-key').fill('not-the-key');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toContain('Wrong admin key');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('signs in and lists the credentials', async () => {
    await page.getByTestId('login-key').fill(ADMIN_KEY);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('credential-row-1').waitFor();
    expect(await page.getByTestId('credential-status-1').textContent()).toContain('Enabled');
    expect(await page.getByTestId('credentials-summary').textContent()).toContain('1 of 1 enabled');
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual(['kiro-gateway-admin-key']);
  });

  it('adds a credential through the form', async () => {
    await page.getByTestId('add-open').click();
    await page.getByTestId('add-field-refreshToken').fill(longToken('UI-ADDED'));
    await page.getByTestId('add-field-email').fill('added@example.com');
    await page.getByTestId('add-field-priority').fill('2');
    await page.getByTestId('add-field-region').fill('us-east-1');
    await page.getByTestId('add-submit').click();
    await expect.poll(() => page.getByTestId('notice-success').textContent()).toContain('Credential 2 added');
    await page.getByTestId('credential-row-2').waitFor();
    await expect.poll(() => page.getByTestId('add-form').count()).toBe(0);
    expect(store.get(2)?.credential).toMatchObject({ email: 'added@example.com', priority: 2, region: 'us-east-1' });
  });

  it('shows the balance of each credential and refreshes it on demand', async () => {
    await expect.poll(() => page.getByTestId('balance-2').textContent()).toMatch(/1,087\.63.*1,100.*left/);
    await page.getByTestId('balance-refresh-2').click();
    await expect.poll(() => page.getByTestId('balance-2').textContent()).toContain('1.1 % used');
  });

  it('disables a credential and shows why', async () => {
    await page.getByTestId('toggle-disabled-2').click();
    await expect.poll(() => page.getByTestId('credential-status-2').textContent()).toContain('Disabled — disabled by an admin');
    expect(store.get(2)?.credential.disabled).toBe(true);
    expect(await page.getByTestId('toggle-disabled-2').textContent()).toBe('Enable');
  });

  it('changes the priority', async () => {
    await page.getByTestId('priority-input-2').fill('7');
    await page.getByTestId('priority-save-2').click();
    await expect.poll(() => page.getByTestId('credential-priority-2').textContent()).toBe('7');
    expect(store.get(2)?.credential.priority).toBe(7);
  });

  it('shows API errors clearly', async () => {
    await page.getByTestId('refresh-1').click();
    await expect
      .poll(() => page.getByTestId('notice-error').textContent())
      .toMatch(/Token refresh of credential 1 failed.*HTTP 502/);
  });

  it('switches the load-balancing mode and shows the cluster', async () => {
    await page.getByTestId('mode-select').selectOption('balanced');
    await expect.poll(() => getMode()).toBe('balanced');
    await page.getByTestId('replica-row-replica-a').waitFor();
    expect(await page.getByTestId('replica-row-replica-a').textContent()).toContain('this one');
    expect(await page.getByTestId('replica-row-replica-b').textContent()).toContain('3');
  });

  it('picks up changes made elsewhere by refreshing the list on its own', async () => {
    await store.update(1, { email: 'renamed@example.com' });
    await expect.poll(() => page.getByTestId('credential-row-1').textContent(), { timeout: 8000 }).toContain('renamed@example.com');
  });

  it('saves a screenshot of the credential list', async () => {
    await dismissNotices(page);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  });

  it('deletes a credential after confirmation', async () => {
    await page.getByTestId('delete-2').click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-cancel').click();
    expect(store.get(2)).toBeDefined();

    await page.getByTestId('delete-2').click();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => page.getByTestId('credential-row-2').count()).toBe(0);
    expect(store.get(2)).toBeUndefined();
    expect(await page.getByTestId('notice-success').textContent()).toContain('Credential 2 deleted');
  });

  it('signs out and forgets the key', async () => {
    await page.getByTestId('logout').click();
    await page.getByTestId('login-form').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });
});
