// Per-item locks that work on local disks and NFS alike: a lock is a directory
// created by an atomic rename of a private directory holding its owner record.
// Holders refresh the directory's mtime (heartbeat); a lock whose owner is a
// dead process on this host, or whose heartbeat is older than the staleness
// limit, is broken. Locks only give single flight: safety never depends on
// them, because every file is published by an atomic rename after verification.
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, rename, rm, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureRealDir, lstatIfExists, openNoFollow, readFileNoFollow } from './safe.js';
import { track, untrack } from './cleanup.js';

// A lock's short-lived companions beside it: the private folder renamed into
// place, and a broken or released lock moved aside before it is removed.
const SCRATCH = { new: '.new-', stale: '.stale-', released: '.released-' };
const SCRATCH_NAME = /\.(new|stale|released)-[0-9a-f]+$/;

/** Whether `name` is one of a lock's short-lived companions (`<lock>.new-…`, `.stale-…`, `.released-…`). */
export function isLockScratch(name: string): boolean {
  return SCRATCH_NAME.test(name);
}

export interface Owner {
  host: string;
  pid: number;
  token: string;
  since: string;
}

export interface LockOptions {
  /** A lock not refreshed for this long is stale. */
  staleMs: number;
  /** Called once when we have to wait for another holder. */
  onWait?: (owner: Owner | undefined) => void;
  /** Called when a stale lock is broken. */
  onBreak?: (owner: Owner | undefined, why: string) => void;
  /**
   * The folder the lock lies below (a tier root, the work directory): every
   * folder from it down to the lock must be a real directory, never a link.
   */
  root?: string;
}

export interface Lock {
  path: string;
  release(): Promise<void>;
}

let hostIdCache: string | undefined;
/** This host and PID namespace: a PID is only meaningful inside it. */
export function hostIdentity(): string {
  if (hostIdCache) return hostIdCache;
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return '';
    }
  };
  let pidns = '';
  try {
    pidns = readlinkSync('/proc/self/ns/pid');
  } catch {
    pidns = '';
  }
  hostIdCache = `${hostname()}/${read('/proc/sys/kernel/random/boot_id')}/${pidns}`;
  return hostIdCache;
}

/** Whether a process of this host runs (EPERM: it runs as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The owner record of the lock at `dir`, or undefined when it is unreadable. */
export async function readOwner(dir: string): Promise<Owner | undefined> {
  try {
    // A link in place of the lock directory is no lock: it is never entered.
    if (!(await lstat(dir)).isDirectory()) return undefined;
    return JSON.parse(await readFileNoFollow(path.join(dir, 'owner.json'))) as Owner;
  } catch {
    // Gone, half-written or unreadable: judged by its heartbeat alone.
    return undefined;
  }
}

/** Why the lock at `dir` is stale, or undefined when it looks alive. */
async function staleReason(dir: string, owner: Owner | undefined, staleMs: number): Promise<string | undefined> {
  const st = await lstatIfExists(dir);
  if (!st) return undefined; // gone already: just retry
  // Breaking renames the link aside and removes it as a link; its target is never touched.
  if (st.isSymbolicLink()) return 'a symbolic link stood in place of the lock';
  if (owner && owner.host === hostIdentity() && !processAlive(owner.pid)) return `its owner (pid ${owner.pid}) is no longer running`;
  const age = Date.now() - st.mtimeMs;
  if (age > staleMs) return `no heartbeat for ${Math.round(age / 1000)} s`;
  return undefined;
}

async function tryCreate(dir: string, owner: Owner): Promise<boolean> {
  const staging = `${dir}${SCRATCH.new}${owner.token}`;
  await mkdir(staging);
  track(staging);
  const fh = await openNoFollow(path.join(staging, 'owner.json'), 'wx');
  try {
    await fh.writeFile(JSON.stringify(owner));
  } finally {
    await fh.close();
  }
  try {
    // rename() of a directory onto an existing non-empty one fails: the lock is held.
    await rename(staging, dir);
    untrack(staging);
    return true;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    untrack(staging);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTDIR') return false;
    throw err;
  }
}

async function breakLock(dir: string, judged: Owner | undefined): Promise<boolean> {
  const aside = `${dir}${SCRATCH.stale}${randomBytes(4).toString('hex')}`;
  try {
    await rename(dir, aside);
  } catch {
    return false;
  }
  const moved = await readOwner(aside);
  if (judged && moved && moved.token !== judged.token) {
    // Someone took the lock between our look and the rename: give it back.
    await rename(aside, dir).catch(() => undefined);
    return false;
  }
  await rm(aside, { recursive: true, force: true });
  return true;
}

/** Acquire the lock at `dir`, waiting for a live holder and breaking a stale one. */
export async function acquireLock(dir: string, opts: LockOptions): Promise<Lock> {
  const lock = await tryAcquireLock(dir, opts, true);
  if (!lock) throw new Error(`could not acquire lock ${dir}`);
  return lock;
}

/** Acquire the lock, or return undefined at once when a live holder has it (when `wait` is false). */
export async function tryAcquireLock(dir: string, opts: LockOptions, wait = false): Promise<Lock | undefined> {
  if (opts.root === undefined) await mkdir(path.dirname(dir), { recursive: true });
  else await ensureRealDir(opts.root, path.dirname(dir));
  const owner: Owner = { host: hostIdentity(), pid: process.pid, token: randomBytes(8).toString('hex'), since: new Date().toISOString() };
  let delay = 20;
  let told = false;
  for (;;) {
    if (await tryCreate(dir, owner)) return holdLock(dir, owner, opts.staleMs);
    const current = await readOwner(dir);
    const why = await staleReason(dir, current, opts.staleMs);
    if (why) {
      if (await breakLock(dir, current)) opts.onBreak?.(current, why);
      continue;
    }
    if (!wait) return undefined;
    if (!told) {
      opts.onWait?.(current);
      told = true;
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 500);
  }
}

function holdLock(dir: string, owner: Owner, staleMs: number): Lock {
  track(dir);
  const beat = setInterval(
    () => {
      const now = new Date();
      utimes(dir, now, now).catch(() => undefined);
    },
    Math.max(50, Math.floor(staleMs / 6)),
  );
  beat.unref();
  return {
    path: dir,
    async release() {
      clearInterval(beat);
      untrack(dir);
      const current = await readOwner(dir);
      if (current?.token !== owner.token) return; // broken and retaken by someone else
      const aside = `${dir}${SCRATCH.released}${owner.token}`;
      try {
        await rename(dir, aside);
        await rm(aside, { recursive: true, force: true });
      } catch {
        // Already gone: nothing to release.
      }
    },
  };
}
