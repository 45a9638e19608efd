/**
 * `npm run demo`: the Kiro simulator and the gateway wired together with demo credentials, so the
 * whole path (Anthropic request → Kiro request → event stream → SSE) can be tried without Kiro.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulator } from './simulator/index.js';
import { loadConfig } from './config.js';
import { buildGateway } from './gateway.js';
import { createLogger } from './observability/logger.js';

const API_KEY = process.env.KIRO_CLIENT_API_KEY || 'sk-demo-client-key';
const ADMIN_KEY = process.env.KIRO_ADMIN_API_KEY || 'sk-demo-admin-key';

async function main(): Promise<void> {
  const sim = await createSimulator({
    host: '127.0.0.1',
    port: Number(process.env.KIRO_SIM_PORT ?? 0),
    chunkDelayMs: 40,
    rotateRefreshTokens: true,
  });
  const dir = mkdtempSync(join(tmpdir(), 'kiro-demo-'));
  const credentialsPath = join(dir, 'credentials.json');
  writeFileSync(
    credentialsPath,
    JSON.stringify(
      [
        { refreshToken: `demo-social-${'r'.repeat(100)}`, authMethod: 'social', priority: 0, email: 'demo@example.com' },
        {
          refreshToken: `demo-idc-${'i'.repeat(100)}`,
          authMethod: 'idc',
          clientId: 'demo-client-id',
          clientSecret: 'demo-client-secret',
          priority: 1,
        },
      ],
      null,
      2,
    ),
  );
  const config = loadConfig({
    argv: ['--credentials', credentialsPath],
    env: {
      ...process.env,
      KIRO_PORT: process.env.KIRO_PORT ?? '8080',
      KIRO_CLIENT_API_KEY: API_KEY,
      KIRO_ADMIN_API_KEY: ADMIN_KEY,
      KIRO_UPSTREAM_API_BASE_URL: sim.url,
      KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${sim.url}/refreshToken`,
      KIRO_UPSTREAM_IDC_REFRESH_URL: `${sim.url}/token`,
    },
  });
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty });
  const gateway = await buildGateway(config, { logger });
  const { url } = await gateway.listen();

  process.stdout.write(`
kiro-gateway demo
  gateway          ${url}
  Kiro simulator   ${sim.url}
  credentials      ${credentialsPath}
  admin UI         ${url}/admin   (admin key: ${ADMIN_KEY})

Try it:
  curl -N ${url}/v1/messages -H 'x-api-key: ${API_KEY}' -H 'content-type: application/json' \\
    -d '{"model":"claude-sonnet-4-5","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Hello"}]}'

  ANTHROPIC_BASE_URL=${url} ANTHROPIC_API_KEY=${API_KEY} node -e "
    const { default: Anthropic } = require('@anthropic-ai/sdk');
    new Anthropic().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 256,
      messages: [{ role: 'user', content: 'Hello' }] }).then((m) => console.log(m.content));"

  Claude Code:  ANTHROPIC_BASE_URL=${url} ANTHROPIC_API_KEY=${API_KEY} claude

Ctrl-C stops both.
`);
  const stop = async () => {
    await gateway.close(2_000);
    await sim.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
