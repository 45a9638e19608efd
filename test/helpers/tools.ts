/**
 * Finds the external tools some tests drive for real (helm, k6, hadolint, promtool, nginx, ...).
 * They are installed by `.ci/run` (apt-get, or the scripts in .ci/tools/ into $KIRO_TOOLS_DIR/bin);
 * a missing tool fails the test with the install step, never a silent skip.
 */
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Where .ci/tools/*.sh put their binaries and build caches. */
export const TOOLS_DIR = process.env.KIRO_TOOLS_DIR ?? join(homedir(), '.cache', 'kiro-gateway');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `name`, searched in $KIRO_TOOLS_DIR/bin, PATH and /usr/sbin; throws naming `installHint` when absent. */
export function requireTool(name: string, installHint: string): string {
  const envOverride = process.env[`${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_BIN`];
  if (envOverride && executable(envOverride)) return envOverride;
  const dirs = [join(TOOLS_DIR, 'bin'), ...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  throw new Error(`${name} is required by this test but was not found. Install it with ${installHint} (.ci/run does this on a fresh machine).`);
}
