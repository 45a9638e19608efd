/**
 * Fenced writes in the Redis store: `update(id, patch, fence)` is a compare-and-set on the tokens a
 * refresh started from, done in Lua, so a holder whose lock expired never writes over newer tokens.
 */
import { describe, expect, it } from 'vitest';
import { TokensReplacedError } from '../../../src/store/store.js';
import { credential, eventually, redisWithStores, uniquePrefix } from './fixtures.js';

const redis = redisWithStores();
const { started } = redis;

const FROM = { refreshToken: credential(1).refreshToken, accessToken: credential(1).accessToken };
const NEWER = { refreshToken: `newer-${'n'.repeat(120)}`, accessToken: 'newer-access', expiresAt: '2031-01-01T00:00:00.000Z' };
const LATE = { refreshToken: `late-${'l'.repeat(120)}`, accessToken: 'late-access', expiresAt: '2030-06-01T00:00:00.000Z' };

describe('fenced update', () => {
  it('writes while Redis holds the tokens the refresh started from', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)] });
    const record = await store.update(1, NEWER, FROM);
    expect(record.credential).toMatchObject(NEWER);
    expect(await redis.raw.hmget(`${keyPrefix}cred:1`, 'refreshToken', 'accessToken', '_rev')).toEqual([NEWER.refreshToken, NEWER.accessToken, '2']);
  });

  it("refuses a late writer: another replica's newer tokens stay, and both replicas end on them", async () => {
    const keyPrefix = uniquePrefix();
    const late = await started({ keyPrefix, seed: [credential(1)], replicaId: 'late' });
    const next = await started({ keyPrefix, seed: [credential(1)], replicaId: 'next' });
    // `late` read FROM under its lock, then stood still; `next` refreshed from the same tokens meanwhile.
    await next.update(1, NEWER, FROM);

    const refused = await late.update(1, LATE, FROM).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TokensReplacedError);
    expect((refused as TokensReplacedError).current.credential).toMatchObject(NEWER);
    expect(await redis.raw.hmget(`${keyPrefix}cred:1`, 'refreshToken', 'accessToken', 'expiresAt', '_rev')).toEqual([
      NEWER.refreshToken,
      NEWER.accessToken,
      NEWER.expiresAt,
      '2', // the refused write left no trace
    ]);
    expect(late.get(1)?.credential).toMatchObject(NEWER); // the refusal brought the newer tokens along
    await eventually(() => expect(next.get(1)?.credential).toMatchObject(NEWER));
  });

  it('compares the access token too, so a refresh without rotation (same refresh token) is fenced as well', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)] });
    await store.update(1, { accessToken: 'second-access', expiresAt: '2031-01-01T00:00:00.000Z' }, FROM);
    await expect(store.update(1, { accessToken: 'first-access', expiresAt: '2030-06-01T00:00:00.000Z' }, FROM)).rejects.toBeInstanceOf(TokensReplacedError);
    expect(await redis.raw.hget(`${keyPrefix}cred:1`, 'accessToken')).toBe('second-access');
  });

  it('treats an absent token as the empty string on both sides', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1, { accessToken: undefined, expiresAt: undefined })] });
    await store.update(1, { accessToken: 'first' }, { refreshToken: credential(1).refreshToken, accessToken: undefined });
    expect(store.get(1)?.credential.accessToken).toBe('first');
  });

  it('fences a disable the same way: a verdict on replaced tokens is not written', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)] });
    await store.update(1, NEWER, FROM);
    await expect(store.update(1, { disabled: true, disabledReason: 'InvalidRefreshToken' }, FROM)).rejects.toBeInstanceOf(TokensReplacedError);
    expect(await redis.raw.hget(`${keyPrefix}cred:1`, 'disabled')).toBe('0');
    // With the tokens it judged still in place, the verdict lands.
    const fence = { refreshToken: NEWER.refreshToken, accessToken: NEWER.accessToken };
    await store.update(1, { disabled: true, disabledReason: 'InvalidRefreshToken' }, fence);
    expect(store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'InvalidRefreshToken' });
  });

  it('lifts an InvalidRefreshToken disable when fenced new tokens land on it (the refusal was late, the token alive)', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)] });
    // A refresh from FROM rotated the token upstream but had not written yet; another replica,
    // refreshing from FROM too, was refused (the token was already rotated) and disabled it.
    await store.update(1, { disabled: true, disabledReason: 'InvalidRefreshToken' }, FROM);
    const record = await store.update(1, NEWER, FROM);
    expect(record.credential).toMatchObject({ ...NEWER, disabled: false });
    expect(record.credential.disabledReason).toBeUndefined();
    expect(await redis.raw.hmget(`${keyPrefix}cred:1`, 'disabled', 'disabledReason')).toEqual(['0', null]);
  });

  it('leaves other disables alone, and unfenced writes lift nothing', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1), credential(2)] });
    await store.update(1, { disabled: true, disabledReason: 'Manual' });
    await store.update(1, NEWER, FROM);
    expect(store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'Manual' });

    await store.update(2, { disabled: true, disabledReason: 'InvalidRefreshToken' });
    await store.update(2, { accessToken: 'admin-written' });
    expect(store.get(2)?.credential).toMatchObject({ disabled: true, disabledReason: 'InvalidRefreshToken' });
  });

  it('readFresh returns what Redis holds now, not the local copy', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)] });
    await redis.raw.hset(`${keyPrefix}cred:1`, 'accessToken', 'written-elsewhere'); // no notification
    expect(store.get(1)?.credential.accessToken).toBe('access-1');
    expect((await store.readFresh(1))?.credential.accessToken).toBe('written-elsewhere');
    expect(await store.readFresh(99)).toBeUndefined();
  });
});
