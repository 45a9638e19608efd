/**
 * The admin UI in headless Chromium against the REAL gateway (test/helpers/stack.ts): the built UI
 * served by the gateway at /admin, the admin API over the real store, pool, token refresher and
 * balance service, and the Kiro simulator behind them. Nothing is faked.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { simScript } from '../../src/simulator/index.js';
import { artifactPath, dismissNotices, ensureUiBuilt, launchBrowser, newAdminPage } from './browser.js';

const SCREENSHOT = artifactPath('admin-credentials-gateway.png');
const SEED_TOKEN = refreshTokenFor('ui-gateway-seed');
const ADDED_TOKEN = refreshTokenFor('ui-gateway-added');

let stack: Stack;
let browser: Browser;
let page: Page;
let addedId: number;

/** The credentials.json the gateway persists to, as written on disk. */
function credentialsFile(): Array<Record<string, unknown>> {
  return JSON.parse(readFileSync(stack.credentialsPath, 'utf8')) as Array<Record<string, unknown>>;
}

beforeAll(async () => {
  ensureUiBuilt();
  stack = await startStack({
    credentials: [{ refreshToken: SEED_TOKEN, authMethod: 'social', email: 'seed@example.com', priority: 0 }],
    sim: { rotateRefreshTokens: true },
  });
  // What getUsageLimits answers for the account the form will add.
  stack.sim.setAccount(ADDED_TOKEN, { subscriptionTitle: 'KIRO POWER', usage: { currentUsage: 12.5, usageLimit: 1000 } });
  browser = await launchBrowser();
  page = await newAdminPage(browser);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('admin UI on the real gateway', () => {
  it('shows an error for a wrong key', async () => {
    await page.goto(`${stack.url}/admin`);
    await page.getByTestId('login-key').fill('sk-not-the-admin-key');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toContain('Wrong admin key');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('signs in and lists the seeded credential', async () => {
    await page.getByTestId('login-key').fill(ADMIN_KEY);
    await page.getByTestId('login-submit').click();
    const [seed] = stack.gateway.store.list();
    const seedId = seed!.credential.id;
    await page.getByTestId(`credential-row-${seedId}`).waitFor();
    expect(await page.getByTestId(`credential-row-${seedId}`).textContent()).toContain('seed@example.com');
    expect(await page.getByTestId(`credential-status-${seedId}`).textContent()).toContain('Enabled');
    expect(await page.getByTestId('credentials-summary').textContent()).toContain('1 of 1 enabled');
    expect(await page.getByTestId(`credential-endpoint-${seedId}`).textContent()).toContain('ide');
    expect(await page.getByTestId(`credential-credits-${seedId}`).textContent()).toBe('0 credits');
  });

  it('shows the Kiro credits the credential’s requests were metered', async () => {
    const seedId = stack.gateway.store.list()[0]!.credential.id;
    const metered = simScript({ events: [{ text: 'Metered.' }, { metering: 0.0052 }, { metering: 0.0011 }] });
    await stack.client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 32, messages: [{ role: 'user', content: `Hi ${metered}` }] });
    // The list refreshes on its own; the credits arrive with it.
    await expect.poll(() => page.getByTestId(`credential-credits-${seedId}`).textContent(), { timeout: 15_000 }).toBe('0.0063 credits');
  });

  it('adds a credential, validated by a real token refresh against the simulator', async () => {
    expect(stack.sim.stats.byAccount[ADDED_TOKEN]?.refresh ?? 0).toBe(0);
    await page.getByTestId('add-open').click();
    await page.getByTestId('add-field-refreshToken').fill(ADDED_TOKEN);
    await page.getByTestId('add-field-email').fill('added@example.com');
    await page.getByTestId('add-field-priority').fill('3');
    await page.getByTestId('add-field-endpoint').selectOption('cli');
    await page.getByTestId('add-submit').click();
    await expect.poll(() => page.getByTestId('notice-success').textContent()).toMatch(/Credential \d+ added/);
    const added = stack.gateway.store.list().find((r) => r.credential.email === 'added@example.com');
    expect(added).toBeDefined();
    addedId = added!.credential.id;
    // No "subscription not known yet" note: the gateway's balance query after the add succeeded.
    expect(await page.getByTestId('notice-success').locator('span').textContent()).toBe(`Credential ${addedId} added`);
    await page.getByTestId(`credential-row-${addedId}`).waitFor();
    await expect.poll(() => page.getByTestId('add-form').count()).toBe(0);
    // The simulator rotates refresh tokens: the gateway kept the one the validation refresh returned.
    expect(added!.credential.refreshToken).not.toBe(ADDED_TOKEN);
    expect(added!.credential.accessToken).toBeTruthy();
    expect(added!.credential.priority).toBe(3);
    expect(added!.credential.endpoint).toBe('cli');
    expect(await page.getByTestId(`credential-endpoint-${addedId}`).textContent()).toContain('cli');
    expect(credentialsFile().find((c) => c.email === 'added@example.com')?.endpoint).toBe('cli');
    expect(stack.sim.stats.byAccount[ADDED_TOKEN]).toMatchObject({ refresh: 1 });
    expect(stack.sim.stats.byAccount[ADDED_TOKEN]!.usage).toBeGreaterThanOrEqual(1);
    expect(credentialsFile().some((c) => c.email === 'added@example.com')).toBe(true);
    expect(await page.getByTestId('credentials-summary').textContent()).toContain('2 of 2 enabled');
  });

  it('shows the balance the simulator reports', async () => {
    await expect.poll(() => page.getByTestId(`balance-${addedId}`).textContent()).toMatch(/987\.5\s*\/\s*1,000 left/);
    expect(await page.getByTestId(`balance-${addedId}`).textContent()).toContain('1.3 % used');
    await expect.poll(() => page.getByTestId(`credential-row-${addedId}`).textContent()).toContain('KIRO POWER');

    stack.sim.setAccount(ADDED_TOKEN, { subscriptionTitle: 'KIRO POWER', usage: { currentUsage: 250, usageLimit: 1000 } });
    await page.getByTestId(`balance-refresh-${addedId}`).click();
    await expect.poll(() => page.getByTestId(`balance-${addedId}`).textContent()).toMatch(/750\s*\/\s*1,000 left.*25 % used/);
  });

  it('disables the credential', async () => {
    await page.getByTestId(`toggle-disabled-${addedId}`).click();
    await expect
      .poll(() => page.getByTestId(`credential-status-${addedId}`).textContent())
      .toContain('Disabled — disabled by an admin');
    expect(stack.gateway.store.get(addedId)?.credential).toMatchObject({ disabled: true, disabledReason: 'Manual' });
    expect(await page.getByTestId(`toggle-disabled-${addedId}`).textContent()).toBe('Enable');
    expect(await page.getByTestId('credentials-summary').textContent()).toContain('1 of 2 enabled');
  });

  it('changes the priority', async () => {
    await page.getByTestId(`priority-input-${addedId}`).fill('7');
    await page.getByTestId(`priority-save-${addedId}`).click();
    await expect.poll(() => page.getByTestId(`credential-priority-${addedId}`).textContent()).toBe('7');
    expect(stack.gateway.store.get(addedId)?.credential.priority).toBe(7);
    expect(credentialsFile().find((c) => c.email === 'added@example.com')?.priority).toBe(7);
  });

  it('saves a screenshot of the credential list', async () => {
    await dismissNotices(page);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  });

  it('deletes the credential after confirmation', async () => {
    await page.getByTestId(`delete-${addedId}`).click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-cancel').click();
    await expect.poll(() => page.getByTestId('confirm-dialog').count()).toBe(0);
    expect(stack.gateway.store.get(addedId)).toBeDefined();

    await page.getByTestId(`delete-${addedId}`).click();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => page.getByTestId(`credential-row-${addedId}`).count()).toBe(0);
    expect(stack.gateway.store.get(addedId)).toBeUndefined();
    expect(await page.getByTestId('notice-success').textContent()).toContain(`Credential ${addedId} deleted`);
    expect(credentialsFile().some((c) => c.email === 'added@example.com')).toBe(false);
    expect(await page.getByTestId('credentials-summary').textContent()).toContain('1 of 1 enabled');
  });
});
