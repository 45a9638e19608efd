/**
 * Seed credentials for the admin tests. Every secret value contains `SECRET`, so the secret scan
 * can list them and look for each one in every response body.
 */
import { longToken, type SeedCredential } from './helpers.js';

export const SECRETS = {
  refresh1: longToken('SECRET-REFRESH-1'),
  access1: 'SECRET-ACCESS-1-aaaaaaaaaaaaaaaa',
  proxyPassword1: 'SECRET-PROXYPW-1',
  proxyUrlPassword1: 'SECRET-URLPW-1',
  refresh2: longToken('SECRET-REFRESH-2-FAIL'),
  access2: 'SECRET-ACCESS-2-bbbbbbbbbbbbbbbb',
  clientSecret2: 'SECRET-CLIENT-2-cccccccccccccccc',
  apiKey3: 'ksk_SECRETAPIKEY3abcdefghijklmnop',
  refresh4: longToken('SECRET-REFRESH-4'),
} as const;

const MACHINE_ID = 'a'.repeat(64);

/**
 * 1: social, enabled, current, with a proxy (password in the URL and in proxyPassword);
 * 2: IdC, disabled QuotaExceeded with failures; 3: API key, disabled Manual;
 * 4: social, disabled InvalidConfig (cannot be re-enabled through the admin API).
 */
export function seedCredentials(): SeedCredential[] {
  return [
    {
      id: 1,
      authMethod: 'social',
      refreshToken: SECRETS.refresh1,
      accessToken: SECRETS.access1,
      expiresAt: '2030-01-01T00:00:00.000Z',
      profileArn: 'arn:aws:codewhisperer:us-east-1:123456789012:profile/ONE',
      priority: 0,
      machineId: MACHINE_ID,
      email: 'one@example.com',
      proxyUrl: `http://proxyuser:${SECRETS.proxyUrlPassword1}@proxy.local:8080`,
      proxyUsername: 'proxyuser',
      proxyPassword: SECRETS.proxyPassword1,
      disabled: false,
      stats: {
        successCount: 5,
        failureTotal: 1,
        creditsUsed: 1.2345,
        lastUsedAt: '2026-01-01T00:00:00.000Z',
        lastError: `upstream said the token ${SECRETS.access1} is invalid`,
      },
    },
    {
      id: 2,
      authMethod: 'idc',
      refreshToken: SECRETS.refresh2,
      accessToken: SECRETS.access2,
      clientId: 'client-id-2',
      clientSecret: SECRETS.clientSecret2,
      priority: 1,
      region: 'us-east-2',
      machineId: MACHINE_ID,
      disabled: true,
      disabledReason: 'QuotaExceeded',
      disabledUntil: '2030-02-01T00:00:00.000Z',
      stats: { failureCount: 3, refreshFailureCount: 1, failureTotal: 7, cooldownUntil: Date.parse('2030-01-01T00:00:00Z') },
    },
    {
      id: 3,
      authMethod: 'api_key',
      kiroApiKey: SECRETS.apiKey3,
      priority: 2,
      endpoint: 'cli',
      machineId: MACHINE_ID,
      disabled: true,
      disabledReason: 'Manual',
    },
    {
      id: 4,
      authMethod: 'social',
      refreshToken: SECRETS.refresh4,
      priority: 5,
      machineId: MACHINE_ID,
      disabled: true,
      disabledReason: 'InvalidConfig',
    },
  ];
}
