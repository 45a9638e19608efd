/** The Redis `db.query.text` the ioredis instrumentation records: command and key names, never values. */
import { describe, expect, it } from 'vitest';
import { redisStatement } from '../../src/observability/tracing-instrumentations.js';

const TOKEN = 'aoa_SECRET_access_token_0123456789';

describe('redisStatement', () => {
  it.each([
    ['evalsha', ['0ca880c8f59d', '2', 'kiro:cred:1', 'kiro:meta', TOKEN, 'rt_SECRET'], 'EVALSHA 0ca880c8f59d keys: kiro:cred:1 kiro:meta (+2 args)'],
    ['eval', ['return redis.call("get", KEYS[1])', '1', 'kiro:ids', TOKEN], 'EVAL <script> keys: kiro:ids (+1 args)'],
    ['set', ['kiro:lock:refresh:1', TOKEN, 'PX', '10000', 'NX'], 'SET kiro:lock:refresh:1 (+4 args)'],
    ['evalsha', ['6f3a2c9d41e0', '1', 'kiro:lock:refresh:1', 'SECRET-lock-value', '10000'], 'EVALSHA 6f3a2c9d41e0 keys: kiro:lock:refresh:1 (+2 args)'],
    ['hset', ['kiro:settings', 'loadBalancingMode', 'balanced'], 'HSET kiro:settings (+2 args)'],
    ['auth', ['default', 'redis-password-SECRET'], 'AUTH (+2 args)'],
    ['hello', ['3', 'AUTH', 'default', 'redis-password-SECRET'], 'HELLO (+4 args)'],
    ['ping', [], 'PING'],
  ])('%s', (name, args, expected) => {
    const text = redisStatement(name, args);
    expect(text).toBe(expected);
    expect(text).not.toContain('SECRET');
  });
});
