import { open, readFile, realpath, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreLockedError } from './errors';

export const LOCK_FILE = 'LOCK';

/** Data directories held by stores of this process, by real path. */
const heldHere = new Set<string>();

/** Whether a process exists and is not a zombie (a killed process its parent has not reaped). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export interface DirectoryLock {
  release(): Promise<void>;
}

/**
 * Claims a data directory with a `LOCK` file holding this process's id. A lock left by a process
 * that is gone (a crash, a kill) is taken over; one held by a live process is refused. A lock
 * naming this very process but not held by any store here is stale too (a restarted container
 * reusing the pid).
 */
export async function lockDirectory(dataDir: string): Promise<DirectoryLock> {
  const real = await realpath(dataDir);
  if (heldHere.has(real)) throw new StoreLockedError(dataDir, undefined);
  heldHere.add(real);
  const path = join(real, LOCK_FILE);
  try {
    let holder: number | undefined;
    try {
      holder = Number.parseInt(await readFile(path, 'utf8'), 10);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (holder !== undefined && holder > 0 && holder !== process.pid && (await isAlive(holder))) {
      throw new StoreLockedError(dataDir, holder);
    }
    const file = await open(path, 'w');
    try {
      await file.writeFile(`${process.pid}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
  } catch (err) {
    heldHere.delete(real);
    throw err;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      try {
        await unlink(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      } finally {
        heldHere.delete(real);
      }
    },
  };
}
