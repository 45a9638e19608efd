/**
 * Client keys in the admin UI, in headless Chromium against the real gateway (one process, the
 * simulator as Kiro): a key created in the UI is shown once and never again, works with the real
 * SDK, its usage appears as charts (per key and per credential) and downloads as CSV, and editing,
 * disabling and deleting it take effect at once.
 */
import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simScript } from '../../src/simulator/index.js';
import { ADMIN_KEY, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { artifactPath, dismissNotices, ensureUiBuilt, launchBrowser, newAdminPage } from './browser.js';

const MODEL = 'claude-sonnet-4-6';

let stack: Stack;
let browser: Browser;
let page: Page;
let secret = '';
let keyId = '';

const sdk = () => new Anthropic({ baseURL: stack.url, apiKey: secret, maxRetries: 0, logLevel: 'error' });

beforeAll(async () => {
  ensureUiBuilt();
  stack = await startStack({ credentials: [{ refreshToken: refreshTokenFor('ui-keys'), authMethod: 'social', email: 'ui@example.com' }] });
  browser = await launchBrowser();
  page = await newAdminPage(browser);
  await page.goto(`${stack.url}/admin`);
  await page.getByTestId('login-key').fill(ADMIN_KEY);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('keys-panel').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('client keys in the admin UI', () => {
  it('creates a key and shows it once', async () => {
    expect(await page.getByTestId('keys-summary').textContent()).toContain('0 keys · one process (no Redis)');
    await page.getByTestId('key-create-open').click();
    await page.getByTestId('key-field-name').fill('ui-team');
    await page.getByTestId('key-field-owner').fill('UI team');
    await page.getByTestId('key-field-requestsPerMinute').fill('100');
    await page.getByTestId('key-submit').click();
    await page.getByTestId('key-secret-dialog').waitFor();
    secret = await page.getByTestId('key-secret').inputValue();
    expect(secret).toMatch(/^sk-kgw-[A-Za-z0-9_-]{43}$/);
    await page.getByTestId('key-secret-close').click();
    keyId = stack.gateway.keys.store.list().find((k) => k.name === 'ui-team')!.id;
    const row = page.getByTestId(`key-row-${keyId}`);
    await row.waitFor();
    expect(await row.textContent()).toContain(`sk-kgw-…${secret.slice(-4)}`);
    expect(await page.getByTestId(`key-limits-${keyId}`).textContent()).toBe('100 req/min');
    // Gone for good: not in the page after a reload, not in the admin API.
    await page.reload();
    await page.getByTestId(`key-row-${keyId}`).waitFor();
    expect(await page.content()).not.toContain(secret);
    const listed = await fetch(`${stack.url}/api/admin/keys`, { headers: { 'x-api-key': ADMIN_KEY } }).then((r) => r.text());
    expect(listed).not.toContain(secret);
    await dismissNotices(page);
    await page.getByTestId('keys-panel').screenshot({ path: artifactPath('admin-keys.png') });
  });

  it('charts the usage of the key and of the credential that served it', async () => {
    const metered = simScript({ events: [{ text: 'Charted.' }, { contextUsage: 0.1 }, { metering: 0.25 }] });
    for (let i = 0; i < 3; i++) {
      const { response } = await sdk()
        .messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: `Hi ${metered}` }] })
        .withResponse();
      expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('100');
    }
    // The card reloads on its own; switching the metric redraws at once.
    await page.getByTestId('usage-metric').selectOption('requests');
    await expect.poll(() => page.getByTestId(`usage-chart-legend-${keyId}`).textContent(), { timeout: 15_000 }).toBe('ui-team 3');
    expect(await page.getByTestId(`usage-chart-series-${keyId}`).locator('polyline').count()).toBe(1);
    await page.getByTestId('usage-metric').selectOption('credits');
    expect(await page.getByTestId(`usage-chart-legend-${keyId}`).textContent()).toBe('ui-team 0.75');
    await page.getByTestId('usage-metric').selectOption('tokens');
    expect(Number((await page.getByTestId(`usage-chart-legend-${keyId}`).textContent())!.split(' ').at(-1)!.replace(/,/g, ''))).toBeGreaterThan(3_000);
    await page.getByTestId('usage-subject').selectOption('credential');
    const credentialId = stack.gateway.store.list()[0]!.credential.id;
    await expect.poll(() => page.getByTestId(`usage-chart-legend-${credentialId}`).textContent()).toContain('ui@example.com');
    await page.getByTestId('usage-granularity').selectOption('day');
    await page.getByTestId('usage-subject').selectOption('key');
    await page.getByTestId('usage-metric').selectOption('requests');
    await expect.poll(() => page.getByTestId(`usage-chart-legend-${keyId}`).textContent()).toBe('ui-team 3');
    await dismissNotices(page);
    await page.getByTestId('usage-panel').screenshot({ path: artifactPath('admin-usage-chart.png') });
  });

  it('downloads the usage as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('usage-csv').click()]);
    expect(download.suggestedFilename()).toBe('kiro-gateway-usage-key-day.csv');
    const csv = readFileSync((await download.path())!, 'utf8');
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe('start,granularity,subject,id,name,requests,input_tokens,output_tokens,credits,errors,rate_limited');
    const row = lines.find((l) => l.includes(keyId))!;
    expect(row).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}T00:00:00\\.000Z,day,key,${keyId},ui-team,3,\\d+,\\d+,0\\.75,0,0$`));
    expect(csv).not.toContain(secret);
  });

  it('edits the limits, disables and deletes the key, each at once', async () => {
    await page.getByTestId(`key-edit-${keyId}`).click();
    await page.getByTestId('key-field-requestsPerMinute').fill('');
    await page.getByTestId('key-field-concurrentStreams').fill('2');
    await page.getByTestId('key-submit').click();
    await expect.poll(() => page.getByTestId(`key-limits-${keyId}`).textContent()).toBe('2 at once');
    expect(stack.gateway.keys.store.get(keyId)!.limits).toEqual({ concurrentStreams: 2 });

    await page.getByTestId(`key-toggle-${keyId}`).click();
    await expect.poll(() => page.getByTestId(`key-status-${keyId}`).textContent()).toBe('Disabled');
    const refused = await sdk().messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.PermissionDeniedError);

    await page.getByTestId(`key-delete-${keyId}`).click();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => page.getByTestId(`key-row-${keyId}`).count()).toBe(0);
    const gone = await sdk().messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(Anthropic.AuthenticationError);
  });
});
