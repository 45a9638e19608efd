/**
 * The secret of a managed client key: generated once, shown once, stored only as its SHA-256.
 * A key carries 256 random bits, so an unsalted SHA-256 is enough: there is nothing to guess.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Prefix of every managed key: recognisable in a leaked config, and told apart from Anthropic's `sk-ant-`. */
export const KEY_PREFIX = 'sk-kgw-';

/** A new key: the prefix and 32 random bytes in base64url (50 characters). */
export function generateKeySecret(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** A new key id: `key_` + 16 hex. */
export function generateKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

/** SHA-256 hex of a presented or generated key. */
export function keyHashOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** What listings show instead of the key: the prefix and the last four characters. */
export function keyHint(secret: string): string {
  return `${KEY_PREFIX}…${secret.slice(-4)}`;
}

/** Key ids as generated; anything else in a path or a query is refused before any lookup. */
export const KEY_ID_PATTERN = /^key_[0-9a-f]{16}$/;
