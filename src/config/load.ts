/**
 * Loading the configuration: schema defaults, then kiro.rs's config.json, then KIRO_* environment
 * variables, then the command line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import convict from 'convict';
import { ConfigError, type GatewayConfig } from './gateway-config.js';
import { buildSchema } from './schema.js';

const DEFAULT_CONFIG_FILE = 'config.json';

/** Options of {@link loadConfig}; everything defaults to the real process. */
export interface LoadConfigOptions {
  /** Command-line arguments after the script name (default `process.argv.slice(2)`). */
  argv?: string[];
  /** Environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Receives non-fatal notices (ignored kiro.rs keys); default `console.warn`. */
  warn?: (message: string) => void;
}

function parseCli(argv: string[]): { config?: string; credentials?: string } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, credentials: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    return values;
  } catch (err) {
    throw new ConfigError(`invalid command line: ${(err as Error).message} (accepted: -c/--config <path>, --credentials <path>)`);
  }
}

/** Drops `null` values: kiro.rs-written files may carry `"proxyUrl": null` for unset options. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value) || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must contain a JSON object`);
  }
  return withoutNulls(parsed) as Record<string, unknown>;
}

/**
 * Loads the configuration: schema defaults, then config.json (kiro.rs keys unchanged, plus nested
 * gateway keys), then `KIRO_*` environment variables, then the command line.
 * Throws {@link ConfigError} naming the setting for unknown keys and invalid values.
 *
 * @example
 * const config = loadConfig({ warn: (m) => logger.warn(m) });
 */
export function loadConfig(opts: LoadConfigOptions = {}): GatewayConfig {
  const env = opts.env ?? process.env;
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const cli = parseCli(opts.argv ?? process.argv.slice(2));

  const explicitConfig = cli.config ?? (env.KIRO_CONFIG || undefined);
  let configPath = '';
  if (explicitConfig !== undefined) {
    configPath = resolve(explicitConfig);
    if (!existsSync(configPath)) throw new ConfigError(`config file ${configPath} does not exist (from ${cli.config !== undefined ? '--config' : 'KIRO_CONFIG'})`);
  } else if (existsSync(DEFAULT_CONFIG_FILE)) {
    configPath = resolve(DEFAULT_CONFIG_FILE);
  }
  const fileData = configPath ? readConfigFile(configPath) : {};
  if ('configPath' in fileData) {
    warn(`config file ${configPath}: "configPath" is ignored inside a config file`);
    delete fileData.configPath;
  }

  const schema = buildSchema();
  // `args: []` keeps convict away from process.argv: the CLI is parsed above.
  const conf = convict(schema as convict.Schema<Record<string, unknown>>, { env, args: [] });
  const source = configPath ? `config file ${configPath} or environment` : 'environment';
  try {
    conf.load(fileData);
    if (cli.credentials !== undefined) conf.set('credentialsPath', cli.credentials);
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(`invalid configuration (${source}):\n${(err as Error).message}`, { cause: err });
  }

  const raw = conf.getProperties() as Record<string, unknown> & GatewayConfig & { tlsBackend: string; endpoints: object };
  const { tlsBackend, endpoints, ...rest } = raw;
  if (tlsBackend) warn(`tlsBackend "${tlsBackend}" is ignored: Node.js always uses its own TLS stack`);
  if (endpoints && Object.keys(endpoints).length > 0) warn('endpoints is ignored: the ide and cli endpoints take no per-endpoint settings (see cliEndpoint.*)');

  const config = rest as GatewayConfig;
  config.configPath = configPath;
  config.credentialsPath = resolve(config.credentialsPath);
  if (config.clientKeys.file) config.clientKeys.file = resolve(config.clientKeys.file);
  config.authRegion = config.authRegion || config.region;
  config.apiRegion = config.apiRegion || config.region;
  if (config.adminApiKey.trim() === '') config.adminApiKey = '';
  return config;
}
