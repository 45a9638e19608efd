/**
 * The container image, checked without a container engine: hadolint judges the Dockerfile, and the
 * runtime stage is rebuilt on disk from the Dockerfile's own COPY/ENV/USER/CMD lines (production
 * dependencies from `npm ci --omit=dev`, the built dist/ and admin UI, nothing else), made read-only,
 * and started as a non-root user with NODE_ENV=production. A runtime import living in
 * devDependencies, or a file the stage forgets to copy, makes the gateway fail to start here.
 *
 * Stand-ins: the image's /app is a temp dir, /data (credentials) and /tmp are writable temp dirs,
 * KIRO_HOST/KIRO_PORT are overridden to 127.0.0.1 and a free port (tests talk to loopback only).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { ensureBuilt, ROOT } from '../helpers/replicas.js';
import { ADMIN_KEY, API_KEY, refreshTokenFor } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';
import { readRuntimeStage, type RuntimeStage } from './dockerfile.js';
import { ensureAdminUiBuilt, runCommand, waitForLine } from './process.js';

const DOCKERFILE = join(ROOT, 'Dockerfile');
const NOBODY = 65534;

let stage: RuntimeStage;
let root: string;
let appDir: string;
let sim: Simulator;
let gateway: ChildProcess;
let url: string;
let output = '';

/** Makes a tree read-only for everyone (and readable by the non-root user the gateway runs as). */
function makeReadOnly(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) makeReadOnly(path);
    else chmodSync(path, (statSync(path).mode & 0o111) | 0o444);
  }
  chmodSync(dir, 0o555);
}

/** Rebuilds the Dockerfile's runtime stage under `appDir`. */
async function materialiseRuntimeStage(): Promise<void> {
  for (const copy of stage.copies) {
    const destination = join(appDir, copy.destination);
    if (copy.from === 'deps') {
      // The deps stage: `npm ci --omit=dev` on package.json + package-lock.json (npm cache reused).
      const depsDir = join(root, 'deps');
      mkdirSync(depsDir);
      cpSync(join(ROOT, 'package.json'), join(depsDir, 'package.json'));
      cpSync(join(ROOT, 'package-lock.json'), join(depsDir, 'package-lock.json'));
      const res = await runCommand('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], depsDir, 240_000);
      if (res.code !== 0) throw new Error(`npm ci --omit=dev failed (${res.code}):\n${res.output}`);
      renameSync(join(depsDir, relative(stage.stageWorkdirs.deps!, copy.source)), destination);
    } else if (copy.from === 'build') {
      const source = join(ROOT, relative(stage.stageWorkdirs.build!, copy.source));
      if (!existsSync(source)) throw new Error(`the runtime stage copies ${copy.source}, but ${source} does not exist after the build`);
      cpSync(source, destination, { recursive: true });
    } else {
      throw new Error(`unexpected COPY in the runtime stage: ${JSON.stringify(copy)}`);
    }
  }
}

beforeAll(async () => {
  stage = readRuntimeStage(DOCKERFILE);
  await Promise.all([ensureBuilt(), ensureAdminUiBuilt()]);
  root = mkdtempSync(join(tmpdir(), 'kiro-image-'));
  chmodSync(root, 0o755);
  appDir = join(root, 'app');
  mkdirSync(appDir);
  await materialiseRuntimeStage();
  makeReadOnly(appDir);

  const writable = (name: string) => {
    const dir = join(root, name);
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    return dir;
  };
  const data = writable('data');
  const tmp = writable('tmp');
  writeFileSync(join(data, 'credentials.json'), JSON.stringify([{ refreshToken: refreshTokenFor('image'), authMethod: 'social' }]));
  chmodSync(join(data, 'credentials.json'), 0o666);

  sim = await createSimulator();
  const [command, ...args] = stage.cmd;
  expect(command).toBe('node');
  const asNonRoot = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
  gateway = spawn(process.execPath, args, {
    cwd: appDir,
    ...asNonRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: tmp,
      TMPDIR: tmp,
      ...stage.env,
      KIRO_HOST: '127.0.0.1',
      KIRO_PORT: '0',
      KIRO_CREDENTIALS: join(data, 'credentials.json'),
      KIRO_CLIENT_API_KEY: API_KEY,
      KIRO_ADMIN_API_KEY: ADMIN_KEY,
      KIRO_UPSTREAM_API_BASE_URL: sim.url,
      KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${sim.url}/refreshToken`,
      KIRO_UPSTREAM_IDC_REFRESH_URL: `${sim.url}/token`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = await waitForLine(gateway, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 20_000, (text) => (output = text));
  url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)![0];
}, 300_000);

afterAll(async () => {
  gateway?.kill('SIGKILL');
  await sim?.close();
  if (root) {
    spawnSync('chmod', ['-R', 'u+w', root]);
    rmSync(root, { recursive: true, force: true });
  }
});

/** Names of every package in the production dependency tree (`npm ls --omit=dev --all`). */
function runtimePackageNames(): Set<string> {
  const out = spawnSync('npm', ['ls', '--omit=dev', '--all', '--json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const names = new Set<string>();
  const walk = (deps: Record<string, { dependencies?: Record<string, unknown> }> | undefined) => {
    // A deduped entry carries no dependencies of its own, so every entry is walked, not every name once.
    for (const [name, node] of Object.entries(deps ?? {})) {
      names.add(name);
      walk(node.dependencies as Record<string, { dependencies?: Record<string, unknown> }> | undefined);
    }
  };
  walk((JSON.parse(out.stdout) as { dependencies?: Record<string, { dependencies?: Record<string, unknown> }> }).dependencies);
  return names;
}

describe('Dockerfile', () => {
  it('passes hadolint with no ignored rule', () => {
    const hadolint = requireTool('hadolint', '.ci/tools/20-hadolint.sh');
    const res = spawnSync(hadolint, ['--no-color', DOCKERFILE], { encoding: 'utf8' });
    expect(res.stdout + res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(existsSync(join(ROOT, '.hadolint.yaml'))).toBe(false);
  });

  it('runs as a numeric non-root user, in production mode, with an exec-form CMD', () => {
    expect(stage.user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(stage.env.NODE_ENV).toBe('production');
    // V8 would size its young generation from a 512Mi limit to 1 MiB: ~2x the CPU per request (bench/README.md).
    expect(stage.env.NODE_OPTIONS).toBe('--max-semi-space-size=16');
    expect(stage.cmd).toEqual(['node', 'dist/src/main.js']);
    expect(stage.base).toMatch(/^node:20[\w.-]*-slim$/);
    expect(stage.healthcheck[0]).toBe('node');
  });
});

describe('the runtime stage rebuilt on disk', () => {
  it('has production dependencies only', () => {
    const pkg = JSON.parse(spawnSync('cat', [join(ROOT, 'package.json')], { encoding: 'utf8' }).stdout) as { devDependencies: Record<string, string> };
    // A devDependency that a runtime package also needs (e.g. `yaml` under @opentelemetry/sdk-node) is
    // rightly there; every other one must be absent.
    const neededAtRuntime = runtimePackageNames();
    for (const dev of Object.keys(pkg.devDependencies)) {
      if (neededAtRuntime.has(dev)) continue;
      expect(existsSync(join(appDir, 'node_modules', dev)), dev).toBe(false);
    }
  });

  it('loads the Redis store and its refresh lock (redlock) from the production dependencies', () => {
    // The memory-mode start below never imports them; a Redis deployment does, at start-up.
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', "const m = await import('./dist/src/store/redis/redis-store.js'); console.log(typeof m.RedisCredentialStore)"], {
      cwd: appDir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
    });
    expect(res.stderr).toBe('');
    expect(res.stdout.trim()).toBe('function');
  });

  it('starts read-only as a non-root user and answers its probes', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it('serves the built admin UI at /admin', async () => {
    const res = await fetch(`${url}/admin/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/<script[^>]+src="\/admin\//);
  });

  it('streams a message through the simulator with the Anthropic SDK', async () => {
    const client = new Anthropic({ baseURL: url, apiKey: API_KEY, maxRetries: 0 });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content[0]).toMatchObject({ type: 'text' });
  });

  it("passes the Dockerfile's HEALTHCHECK command (node fetch, no curl)", () => {
    const [, ...args] = stage.healthcheck;
    const res = spawnSync(process.execPath, args, { env: { KIRO_PORT: new URL(url).port }, timeout: 10_000 });
    expect(res.status).toBe(0);
  });

  it('logged no error and wrote nothing outside its temp and data dirs', () => {
    expect(output).not.toMatch(/"level":(50|60)/);
    expect(output).not.toMatch(/EACCES|EROFS/);
  });
});
