import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, generateConfigTable, loadConfig, parseLockNodes, SYSTEM_VERSIONS, withRegion } from '../src/config.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kiro-config-'));
}

function writeJson(dir: string, name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

const BASE_ENV = { KIRO_CLIENT_API_KEY: 'sk-client' };

/** A complete kiro.rs config.json, every documented key (docs/kiro-protocol.md §11.1). */
const KIRO_RS_CONFIG = {
  host: '0.0.0.0',
  port: 8990,
  apiKey: 'sk-kiro-rs-abc',
  region: 'eu-west-1',
  authRegion: 'us-east-1',
  apiRegion: 'us-east-1',
  kiroVersion: '0.12.0',
  machineId: '2582956e-cc88-4669-b546-07adbffcb894',
  systemVersion: 'darwin#24.6.0',
  nodeVersion: '22.21.1',
  tlsBackend: 'rustls',
  countTokensApiUrl: 'https://count.example.com/v1/messages/count_tokens',
  countTokensApiKey: 'ct-key',
  countTokensAuthType: 'bearer',
  proxyUrl: 'socks5://127.0.0.1:1080',
  proxyUsername: 'u',
  proxyPassword: 'p',
  adminApiKey: 'sk-admin-xyz',
  loadBalancingMode: 'balanced',
  extractThinking: false,
  defaultEndpoint: 'ide',
  endpoints: {},
};

describe('loadConfig', () => {
  it('loads a kiro.rs config.json unchanged and warns about tlsBackend', () => {
    const dir = tempDir();
    const path = writeJson(dir, 'config.json', KIRO_RS_CONFIG);
    const warnings: string[] = [];
    const config = loadConfig({ argv: ['-c', path], env: {}, warn: (m) => warnings.push(m) });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8990,
      apiKey: 'sk-kiro-rs-abc',
      region: 'eu-west-1',
      authRegion: 'us-east-1',
      apiRegion: 'us-east-1',
      kiroVersion: '0.12.0',
      machineId: '2582956e-cc88-4669-b546-07adbffcb894',
      systemVersion: 'darwin#24.6.0',
      nodeVersion: '22.21.1',
      countTokensAuthType: 'bearer',
      proxyUrl: 'socks5://127.0.0.1:1080',
      adminApiKey: 'sk-admin-xyz',
      loadBalancingMode: 'balanced',
      extractThinking: false,
      configPath: path,
    });
    expect(config).not.toHaveProperty('tlsBackend');
    expect(config).not.toHaveProperty('endpoints');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('tlsBackend');
  });

  it('uses the documented defaults when no file is given', () => {
    const config = loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_CONFIG: '' } });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.region).toBe('us-east-1');
    expect(config.authRegion).toBe('us-east-1');
    expect(config.apiRegion).toBe('us-east-1');
    expect(SYSTEM_VERSIONS).toContain(config.systemVersion);
    expect(config.upstream).toMatchObject({
      apiBaseUrl: 'https://q.{region}.amazonaws.com',
      socialRefreshUrl: 'https://prod.{region}.auth.desktop.kiro.dev/refreshToken',
      idcRefreshUrl: 'https://oidc.{region}.amazonaws.com/token',
      timeoutMs: 720_000,
    });
    expect(config.pool).toMatchObject({
      maxAttemptsPerCredential: 3,
      maxAttemptsPerRequest: 9,
      maxFailures: 3,
      refreshBeforeExpiryMs: 600_000,
      balanceCacheTtlMs: 300_000,
    });
    expect(config.limits.bodyLimitBytes).toBe(50 * 1024 * 1024);
    expect(config.sse.pingIntervalMs).toBe(25_000);
    expect(config.shutdown.graceMs).toBe(30_000);
    expect(config.redis.keyPrefix).toBe('kiro:');
    expect(config.redis.lockTtlMs).toBe(10_000);
    expect(config.log.pretty).toBe(process.stdout.isTTY === true);
    expect(config.credentialsPath.endsWith('credentials.json')).toBe(true);
  });

  it('fills authRegion and apiRegion from region when they are not set', () => {
    const config = loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_REGION: 'ap-southeast-1' } });
    expect(config.authRegion).toBe('ap-southeast-1');
    expect(config.apiRegion).toBe('ap-southeast-1');
  });

  it('lets environment variables override config.json, nested keys included', () => {
    const dir = tempDir();
    const path = writeJson(dir, 'config.json', { ...KIRO_RS_CONFIG, tlsBackend: undefined, pool: { maxFailures: 5 } });
    const config = loadConfig({
      argv: ['--config', path],
      env: {
        KIRO_PORT: '9100',
        KIRO_CLIENT_API_KEY: 'sk-env',
        KIRO_API_KEY: 'ksk_from_env',
        KIRO_ADMIN_API_KEY: 'adm',
        KIRO_REDIS_URL: 'redis://localhost:6379',
        KIRO_UPSTREAM_API_BASE_URL: 'http://127.0.0.1:4000',
        KIRO_LOG_LEVEL: 'debug',
        KIRO_LOG_PRETTY: 'false',
        KIRO_EXTRACT_THINKING: 'true',
        KIRO_POOL_MAX_CONCURRENCY_PER_CREDENTIAL: '4',
      },
      warn: () => {},
    });
    expect(config.port).toBe(9100);
    expect(config.apiKey).toBe('sk-env');
    expect(config.kiroApiKeyCredential).toBe('ksk_from_env');
    expect(config.adminApiKey).toBe('adm');
    expect(config.redis.url).toBe('redis://localhost:6379');
    expect(config.upstream.apiBaseUrl).toBe('http://127.0.0.1:4000');
    expect(config.log).toEqual({ level: 'debug', pretty: false });
    expect(config.extractThinking).toBe(true);
    expect(config.pool.maxFailures).toBe(5);
    expect(config.pool.maxConcurrencyPerCredential).toBe(4);
  });

  it('takes the credentials path from --credentials over KIRO_CREDENTIALS', () => {
    const fromEnv = loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_CREDENTIALS: '/tmp/a.json' } });
    expect(fromEnv.credentialsPath).toBe('/tmp/a.json');
    const fromCli = loadConfig({ argv: ['--credentials', '/tmp/b.json'], env: { ...BASE_ENV, KIRO_CREDENTIALS: '/tmp/a.json' } });
    expect(fromCli.credentialsPath).toBe('/tmp/b.json');
  });

  it('reads the config path from KIRO_CONFIG', () => {
    const dir = tempDir();
    const path = writeJson(dir, 'my.json', { apiKey: 'x', port: 1234 });
    const config = loadConfig({ argv: [], env: { KIRO_CONFIG: path } });
    expect(config.port).toBe(1234);
    expect(config.configPath).toBe(path);
  });

  it('treats null values in config.json as unset', () => {
    const dir = tempDir();
    const path = writeJson(dir, 'config.json', { apiKey: 'x', proxyUrl: null, machineId: null });
    const config = loadConfig({ argv: ['-c', path], env: {} });
    expect(config.proxyUrl).toBe('');
    expect(config.machineId).toBe('');
  });

  it('fails on an unknown key, naming it', () => {
    const dir = tempDir();
    const path = writeJson(dir, 'config.json', { apiKey: 'x', prot: 8080 });
    expect(() => loadConfig({ argv: ['-c', path], env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ argv: ['-c', path], env: {} })).toThrow(/'prot' not declared/);
  });

  it('fails on an unknown nested key, naming it', () => {
    const dir = tempDir();
    const path = writeJson(dir, 'config.json', { apiKey: 'x', pool: { maxFailure: 2 } });
    expect(() => loadConfig({ argv: ['-c', path], env: {} })).toThrow(/pool\.maxFailure/);
  });

  it('fails on an invalid value, naming the setting', () => {
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_PORT: 'eighty' } })).toThrow(/port: must be an integer/);
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_PORT: '70000' } })).toThrow(/port/);
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_LOAD_BALANCING_MODE: 'random' } })).toThrow(
      /loadBalancingMode: must be one of/,
    );
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_EXTRACT_THINKING: 'maybe' } })).toThrow(
      /extractThinking: must be true or false/,
    );
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_MACHINE_ID: 'abc' } })).toThrow(/machineId/);
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_PROXY_URL: 'ftp://x' } })).toThrow(/proxyUrl/);
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_UPSTREAM_API_BASE_URL: 'not a url' } })).toThrow(
      /upstream\.apiBaseUrl/,
    );
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_POOL_MAX_ATTEMPTS_PER_REQUEST: '0' } })).toThrow(
      /pool\.maxAttemptsPerRequest/,
    );
  });

  it('takes redis.lockNodes as comma-separated redis URLs, refuses anything else without echoing it, and a lock TTL under 300 ms', () => {
    const nodes = 'redis://a:6379, rediss://:pw@b:6380 ,redis://c:6379';
    const config = loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_REDIS_LOCK_NODES: nodes } });
    expect(parseLockNodes(config.redis.lockNodes)).toEqual(['redis://a:6379', 'rediss://:pw@b:6380', 'redis://c:6379']);
    expect(parseLockNodes('')).toEqual([]);
    const bad = () => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_REDIS_LOCK_NODES: 'redis://a:6379,http://:secret-pw@b' } });
    expect(bad).toThrow(/redis\.lockNodes: must be empty or redis:\/\//);
    expect(bad).not.toThrow(/secret-pw/);
    expect(() => loadConfig({ argv: [], env: { ...BASE_ENV, KIRO_REDIS_LOCK_TTL_MS: '200' } })).toThrow(/redis\.lockTtlMs: must be an integer >= 300/);
  });

  it('does not echo secret values in validation errors', () => {
    const dir = tempDir();
    const path = writeJson(dir, 'config.json', { apiKey: 12345678 });
    expect(() => loadConfig({ argv: ['-c', path], env: {} })).toThrow(ConfigError);
    try {
      loadConfig({ argv: ['-c', path], env: {} });
    } catch (err) {
      expect((err as Error).message).toContain('apiKey');
      expect((err as Error).message).not.toContain('12345678');
    }
  });

  it('starts without a client API key (every client request is then rejected)', () => {
    expect(loadConfig({ argv: [], env: {} }).apiKey).toBe('');
  });

  it('fails clearly on a missing explicit config file, bad JSON and unknown CLI flags', () => {
    expect(() => loadConfig({ argv: ['-c', '/nonexistent/config.json'], env: BASE_ENV })).toThrow(/does not exist/);
    const dir = tempDir();
    const path = join(dir, 'config.json');
    writeFileSync(path, '{"port": 80,');
    expect(() => loadConfig({ argv: ['-c', path], env: BASE_ENV })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ argv: ['--verbose'], env: BASE_ENV })).toThrow(/invalid command line/);
  });
});

describe('withRegion', () => {
  it('replaces every {region} placeholder', () => {
    expect(withRegion('https://q.{region}.amazonaws.com/{region}', 'eu-central-1')).toBe(
      'https://q.eu-central-1.amazonaws.com/eu-central-1',
    );
  });
});

describe('generateConfigTable', () => {
  it('renders one row per setting with its env var and default', () => {
    const table = generateConfigTable();
    const lines = table.split('\n');
    expect(lines[0]).toBe('| key | env | default | doc |');
    expect(table).toContain('| `port` | `KIRO_PORT` | `8080` |');
    expect(table).toContain('| `apiKey` | `KIRO_CLIENT_API_KEY` |');
    expect(table).toContain('| `kiroApiKeyCredential` | `KIRO_API_KEY` |');
    expect(table).toContain('| `upstream.apiBaseUrl` | `KIRO_UPSTREAM_API_BASE_URL` | `"https://q.{region}.amazonaws.com"` |');
    expect(table).toContain('random: darwin#24.6.0 or win32#10.0.22631');
    for (const line of lines.slice(2)) expect(line).toMatch(/^\| `[\w.]+` \| `KIRO_[A-Z_]+` \| .+ \| .+ \|$/);
  });
});
