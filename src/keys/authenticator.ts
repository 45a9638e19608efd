/**
 * Who sent a request: the presented key (`x-api-key` or `Authorization: Bearer`) is hashed once and
 * compared in constant time with the configuration's `apiKey`, then looked up by its SHA-256 among
 * the managed keys (the local copy: no I/O). A lookup by digest reveals nothing about any key through
 * its timing, and the digest found is compared again in constant time.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import { AuthenticationError, PermissionError } from '../errors.js';
import { presentedKey } from '../http/api-key.js';
import { CONFIG_KEY_CONTEXT, contextOf, type ClientKeyContext } from './key-context.js';
import type { ClientKeyStore } from './key-store.js';

/** One call, no Hash object: this runs on every client request. */
function sha256(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

export class ClientAuthenticator {
  private readonly configDigest: Buffer | undefined;

  constructor(
    configApiKey: string,
    private readonly store: Pick<ClientKeyStore, 'byHash' | 'list'>,
  ) {
    this.configDigest = configApiKey ? sha256(configApiKey) : undefined;
  }

  /** The key context of a request's headers; AuthenticationError (401) or, for a disabled key, PermissionError (403). */
  authenticate(headers: Record<string, string | string[] | undefined>): ClientKeyContext {
    const key = presentedKey(headers);
    if (key === undefined) {
      throw new AuthenticationError('Missing API key: send it in the x-api-key header or as Authorization: Bearer <key>');
    }
    const digest = sha256(key);
    if (this.configDigest && timingSafeEqual(digest, this.configDigest)) return CONFIG_KEY_CONTEXT;
    const hex = digest.toString('hex');
    const record = this.store.byHash(hex);
    if (record && timingSafeEqual(Buffer.from(record.keyHash, 'hex'), digest)) {
      const context = contextOf(record);
      if (!record.enabled) throw new PermissionError(`API key ${context.label} is disabled`);
      return context;
    }
    if (!this.configDigest && this.store.list().length === 0) {
      throw new AuthenticationError(
        'The gateway has no client API key configured: set apiKey in config.json or KIRO_CLIENT_API_KEY, or create a key in the admin API',
      );
    }
    throw new AuthenticationError('Invalid API key');
  }
}
