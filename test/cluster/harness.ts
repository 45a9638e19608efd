/**
 * What the cluster test files set up alike: dist/ built before the first test and clean-ups after
 * each, the credential whose token has already expired (the refresh tests start from it), and
 * requests spread over the replicas.
 */
import { afterEach, beforeAll } from 'vitest';
import type { CredentialFileEntry } from '../../src/credentials/types.js';
import { ensureBuilt, message, type Replica } from '../helpers/replicas.js';

/**
 * Builds dist/ before the file's first test (when it is older than src/) and returns the file's
 * clean-ups: what a test pushes there is undone after it, last first. Call at the top of the file.
 */
export function cleanupsPerTest(): Array<() => unknown> {
  const cleanups: Array<() => unknown> = [];
  beforeAll(() => ensureBuilt(), 240_000);
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  return cleanups;
}

/** Credential 1 (unless `more` says otherwise), social, its access token expired a minute ago. */
export function expiredCredential(refreshToken: string, more: Partial<CredentialFileEntry> = {}): CredentialFileEntry {
  return { id: 1, refreshToken, authMethod: 'social', expiresAt: new Date(Date.now() - 60_000).toISOString(), ...more };
}

/** `count` small Messages requests at once, request i on replica i mod n; one that throws is status -1. */
export function spreadMessages(replicas: readonly Replica[], count: number): Promise<Array<{ status: number; body: any; ms: number }>> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => message(replicas[i % replicas.length]!.url).catch((err: Error) => ({ status: -1, body: err.message, ms: 0 }))),
  );
}
