/**
 * Atomic file replacement (temp file, fsync, rename, fsync of the directory) and the clean-up of
 * temp files a crashed writer left behind: how credentials.json (and config.json, for the
 * load-balancing mode) are written.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TEMP_SUFFIX = '.tmp';

function tempPrefix(target: string): string {
  return `.${basename(target)}.`;
}

/**
 * Replaces `path` with `data` so that readers and crashes only ever see the old or the new
 * content: write a temp file in the same directory, fsync it, rename it over the target, fsync the
 * directory. A symlinked target is followed (the link stays); the file mode is kept (0600 for new).
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  let target = path;
  try {
    target = await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let mode = 0o600;
  try {
    mode = (await stat(target)).mode & 0o777;
  } catch {
    // new file
  }
  const dir = dirname(target);
  const temp = join(dir, `${tempPrefix(target)}${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  try {
    const fh = await open(temp, 'wx', mode);
    try {
      await fh.chmod(mode);
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic there.
  } finally {
    await fh?.close();
  }
}

/** Deletes temp files a crashed writer left next to `path`; returns how many were removed. */
export async function removeStaleTempFiles(path: string): Promise<number> {
  let target = path;
  try {
    target = await realpath(path);
  } catch {
    // the file may not exist yet; its directory may still hold leftovers
  }
  const prefix = tempPrefix(target);
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
    // Another live process could be mid-write with its own temp file: only remove our pid's or
    // those whose pid is gone.
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (pid !== process.pid && Number.isInteger(pid) && pidAlive(pid)) continue;
    await unlink(join(dirname(target), name)).catch(() => {});
    removed++;
  }
  return removed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
