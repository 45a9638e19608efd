/**
 * deploy/compose.yaml, the laptop trial. There is no container engine on these machines (and no
 * `docker compose` plugin), so the file is checked as far as that allows: compose-go, the loader
 * `docker compose config` runs, accepts it (Compose Specification schema, interpolation, anchors;
 * built by .ci/tools/40-compose-validate.sh); it has Redis,
 * the simulator, three gateway replicas behind the nginx load balancer, Prometheus and Grafana; every
 * KIRO_* variable it sets exists in the gateway's config schema (or the simulator's flags); ports,
 * probes and the stop grace period match the gateway settings it sets (as the Helm chart derives
 * them); every file it mounts exists; nginx balances over exactly the gateway services; Prometheus
 * scrapes exactly those (its config passes `promtool check config`); Grafana gets the provisioning and
 * dashboards. test/deploy/prometheus-scrape.test.ts runs the nginx and Prometheus parts for real.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateConfigTable } from '../../src/config.js';
import { requireTool } from '../helpers/tools.js';
import { ROOT } from './promql.js';

const DEPLOY = join(ROOT, 'deploy');
const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, {
    image?: string;
    build?: { context: string };
    command?: string[];
    environment?: Record<string, string>;
    volumes?: string[];
    ports?: string[];
    healthcheck?: { test: string[] };
    stop_grace_period?: string;
    depends_on?: unknown;
    read_only?: boolean;
  }>;
};
const services = compose.services;
const gateways = Object.keys(services).filter((s) => /^gateway-\d+$/.test(s));
const schemaEnv = new Set([...generateConfigTable().matchAll(/`(KIRO_[A-Z0-9_]+)`/g)].map((m) => m[1]));
const simulatorEnv = new Set([...readFileSync(join(ROOT, 'src/simulator/main.ts'), 'utf8').matchAll(/\b(KIRO_SIM_[A-Z_]+)\b/g)].map((m) => m[1]));

describe('deploy/compose.yaml', () => {
  it('loads with compose-go, as `docker compose config` would (schema, interpolation, anchors)', () => {
    const bin = requireTool('compose-validate', '`bash .ci/tools/40-compose-validate.sh` (builds it with Go)');
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    const res = spawnSync(bin, [join(DEPLOY, 'compose.yaml')], { encoding: 'utf8', env, timeout: 30_000 });
    expect(res.status, res.stderr).toBe(0);
    const project = parse(res.stdout) as { name: string; services: Record<string, { environment?: Record<string, string>; stop_grace_period?: string }> };
    expect(project.name).toBe('kiro-gateway');
    expect(Object.keys(project.services).sort()).toEqual(Object.keys(services).sort());
    // Interpolated defaults and the merged anchor reach every replica.
    for (const g of gateways) expect(project.services[g].environment?.KIRO_CLIENT_API_KEY, g).toBe('trial-client-key');
    // And an invalid file is refused (the loader is not a no-op).
    const badFile = join(mkdtempSync(join(tmpdir(), 'kiro-compose-')), 'compose.yaml');
    writeFileSync(badFile, 'services:\n  a:\n    image: x\n    not_a_key: 1\n');
    const bad = spawnSync(bin, [badFile], { encoding: 'utf8', env });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('not_a_key');
  });

  it('runs Redis, the simulator, three gateway replicas, the load balancer, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['gateway-1', 'gateway-2', 'gateway-3', 'grafana', 'lb', 'prometheus', 'redis', 'simulator']);
    expect(gateways).toHaveLength(3);
    for (const g of gateways) expect(services[g].build?.context, g).toBe('..');
  });

  it('sets only KIRO_* variables the gateway (or the simulator) knows', () => {
    expect(schemaEnv.size).toBeGreaterThan(40);
    for (const [name, svc] of Object.entries(services)) {
      for (const key of Object.keys(svc.environment ?? {})) {
        if (!key.startsWith('KIRO_')) continue;
        const known = name === 'simulator' ? simulatorEnv.has(key) : schemaEnv.has(key);
        expect(known, `${name}: ${key} is not a setting`).toBe(true);
      }
    }
  });

  it('gateways: Redis, simulator upstream, probes on the API port, stop grace period as the chart derives it', () => {
    for (const g of gateways) {
      const svc = services[g];
      const env = svc.environment!;
      expect(env.KIRO_REDIS_URL, g).toBe('redis://redis:6379');
      expect(env.KIRO_UPSTREAM_API_BASE_URL, g).toBe(`http://simulator:${services.simulator.environment!.KIRO_SIM_PORT}`);
      expect(env.KIRO_METRICS_ENABLED, g).toBe('true');
      expect(env.KIRO_HOST, g).toBe('0.0.0.0');
      expect(svc.healthcheck?.test.join(' '), g).toContain(`http://127.0.0.1:${env.KIRO_PORT}/readyz`);
      const grace = Math.ceil((Number(env.KIRO_SHUTDOWN_GRACE_MS) + Number(env.KIRO_SHUTDOWN_READINESS_DELAY_MS)) / 1000) + 10;
      expect(svc.stop_grace_period, g).toBe(`${grace}s`);
      expect(svc.read_only, g).toBe(true);
      const credentialsMount = svc.volumes!.find((v) => v.endsWith(`:${env.KIRO_CREDENTIALS}:ro`));
      expect(credentialsMount, g).toBeDefined();
      const credentials = JSON.parse(readFileSync(resolve(DEPLOY, credentialsMount!.split(':')[0]), 'utf8')) as { refreshToken: string }[];
      for (const c of credentials) expect(c.refreshToken, 'trial credentials are simulator tokens only').toMatch(/^simulator-trial-/);
    }
  });

  it('mounts only files that exist', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const volume of svc.volumes ?? []) {
        const host = volume.split(':')[0];
        if (!host.startsWith('.')) continue; // a named volume
        expect(existsSync(resolve(DEPLOY, host)), `${name}: ${host}`).toBe(true);
      }
    }
  });

  it('nginx balances over exactly the gateway services, SSE-safe', () => {
    const conf = readFileSync(join(DEPLOY, 'nginx', 'nginx.conf'), 'utf8');
    const upstreams = [...conf.matchAll(/^\s*server ([\w-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    expect(upstreams).toEqual(gateways.map((g) => `${g}:${services[g].environment!.KIRO_PORT}`));
    for (const directive of ['proxy_buffering off;', 'proxy_request_buffering off;', 'proxy_http_version 1.1;', 'proxy_read_timeout 3600s;', 'client_max_body_size 50m;']) {
      expect(conf).toContain(directive);
    }
    expect(services.lb.ports).toEqual(['8080:8080']);
    expect(conf).toMatch(/listen 8080;/);
  });

  it('Prometheus scrapes exactly the gateway services with the rules loaded (promtool check config)', () => {
    const prom = parse(readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[]; labels: Record<string, string> }[] }[];
    };
    const job = prom.scrape_configs.find((j) => j.job_name === 'kiro-gateway')!;
    expect(job.static_configs.flatMap((s) => s.targets)).toEqual(gateways.map((g) => `${g}:${services[g].environment!.KIRO_PORT}`));
    for (const s of job.static_configs) expect(Object.keys(s.labels).sort()).toEqual(['namespace', 'pod']);
    expect(services.prometheus.volumes).toContain('./prometheus:/etc/prometheus:ro');
    const res = spawnSync(requireTool('promtool', '`apt-get install prometheus` (Debian; it brings promtool)'), ['check', 'config', join(DEPLOY, 'prometheus', 'prometheus.yml')], { encoding: 'utf8' });
    expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
    expect(res.stdout).toMatch(/SUCCESS: 1 rule files found/);
  });

  it('Grafana gets the provisioning files and the dashboards', () => {
    expect(services.grafana.volumes).toEqual([
      './grafana/provisioning:/etc/grafana/provisioning:ro',
      './grafana/dashboards:/var/lib/grafana/dashboards/kiro-gateway:ro',
    ]);
    const provider = parse(readFileSync(join(DEPLOY, 'grafana/provisioning/dashboards/kiro-gateway.yaml'), 'utf8'));
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards/kiro-gateway');
  });
});
