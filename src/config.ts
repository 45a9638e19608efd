/**
 * Gateway configuration. CONTRACT (shared by all modules): the `GatewayConfig` shape
 * (config/gateway-config.ts). `loadConfig()` (convict, config/load.ts) fills it from kiro.rs's
 * config.json, then KIRO_* environment variables, then the command line; the schema is in
 * config/schema.ts, one file per topic.
 */
export {
  ConfigError,
  KIRO_ENDPOINTS,
  parseLockNodes,
  SYSTEM_VERSIONS,
  withRegion,
  type GatewayConfig,
  type KiroEndpoint,
  type LoadBalancingMode,
} from './config/gateway-config.js';
export { loadConfig, type LoadConfigOptions } from './config/load.js';
export { generateConfigTable } from './config/schema.js';
