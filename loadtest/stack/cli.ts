/**
 * `npm run loadtest -- <profile> [--replicas N]`: starts the local stack (redis-server, simulator,
 * N gateway replicas, nginx), runs loadtest/<profile>.js with k6 against nginx, prints k6's summary
 * and tears everything down, also on Ctrl-C. Exits with k6's code (99 = a threshold failed).
 * `scale` runs the HPA play instead (loadtest/stack/hpa-play.ts): exit 0 when every assertion holds.
 */
import { parseArgs } from 'node:util';
import { requireTool } from '../../test/helpers/tools.js';
import { runK6 } from './k6.js';
import { startLocalStack, type LocalStack } from './local-stack.js';

const PROFILES = ['smoke', 'load', 'stress', 'spike', 'soak', 'scale'];

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { replicas: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } },
  });
  const profile = positionals[0];
  if (values.help || !profile || !PROFILES.includes(profile)) {
    process.stderr.write(`usage: npm run loadtest -- <${PROFILES.join('|')}> [--replicas N]\n`);
    return values.help ? 0 : 2;
  }
  const replicas = Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`--replicas must be a positive integer, got ${values.replicas}`);
  const k6Binary = requireTool('k6', 'bash .ci/tools/40-k6.sh');
  const nginxBinary = requireTool('nginx', 'apt-get install nginx');

  if (profile === 'scale') {
    const { runHpaPlay, printHpaReport } = await import('./hpa-play.js');
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    process.once('SIGTERM', () => controller.abort());
    let chromiumPath: string | undefined;
    try {
      chromiumPath = requireTool('chromium', 'apt-get install chromium');
    } catch {
      process.stderr.write('chromium not found: the picture is written as SVG only\n');
    }
    const report = await runHpaPlay({ k6Binary, nginxBinary, chromiumPath, signal: controller.signal });
    printHpaReport(report);
    return report.problems.length === 0 ? 0 : 1;
  }

  let stack: LocalStack | undefined;
  const controller = new AbortController();
  const interrupt = () => {
    process.stderr.write('\ninterrupted: stopping k6 and tearing the stack down\n');
    controller.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    process.stdout.write(`starting redis-server, simulator, ${replicas} gateway replica(s) and nginx…\n`);
    stack = await startLocalStack({ replicas, nginxBinary });
    process.stdout.write(`nginx on ${stack.url} → ${stack.replicas.map((r) => r.url).join(', ')}\nrunning k6 ${profile}\n`);
    const result = await runK6({ k6Binary, profile, target: stack.url, apiKey: stack.apiKey, env: { K6_SIM_SCRIPTS: '1' }, signal: controller.signal });
    process.stdout.write(`summary: ${result.summaryPath}\n`);
    return result.code;
  } finally {
    await stack?.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
