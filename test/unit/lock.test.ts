import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { acquireLock, hostIdentity, type Owner, tryAcquireLock } from '../../src/fs/lock.js';
import { LOCK_DIR, itemLockPath as lockPath } from '../../src/layout/paths.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-lock-');
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const STALE_MS = 60_000;

/** A pid that surely belongs to no running process: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  const pid = child.pid;
  await once(child, 'exit');
  if (pid === undefined) throw new Error('could not spawn true');
  return pid;
}

/** A lock directory written by hand, as another process would leave it. */
async function handMadeLock(dir: string, owner: Owner, ageMs = 0): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'owner.json'), JSON.stringify(owner));
  if (ageMs > 0) {
    const then = new Date(Date.now() - ageMs);
    await utimes(dir, then, then);
  }
}

async function lockDirIn(): Promise<string> {
  return lockPath(await tempDir(), 'tools', 'a.deb');
}

describe('lockPath and hostIdentity', () => {
  it('puts locks under the hidden lock directory, by section and file', () => {
    expect(lockPath('/c', 'tools', 'a.deb')).toBe(path.join('/c', LOCK_DIR, 'tools', 'a.deb.lock'));
  });

  it('identifies this host by a stable, non-empty string', () => {
    expect(hostIdentity()).toMatch(/.+\/.*\/.*/);
    expect(hostIdentity()).toBe(hostIdentity());
  });
});

describe('tryAcquireLock', () => {
  it('takes a free lock, recording this process as owner, and removes it on release', async () => {
    const dir = await lockDirIn();
    const lock = await tryAcquireLock(dir, { staleMs: STALE_MS });
    expect(lock?.path).toBe(dir);
    const owner = JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')) as Owner;
    expect(owner).toMatchObject({ host: hostIdentity(), pid: process.pid });
    expect(owner.token).toMatch(/^[0-9a-f]{16}$/);
    await lock?.release();
    expect(await exists(dir)).toBe(false);
    // Nothing is left beside it either (no staging or released directories).
    expect(await readdir(path.dirname(dir))).toEqual([]);
  });

  it('returns undefined while another holder has the lock, and succeeds after release', async () => {
    const dir = await lockDirIn();
    const first = await tryAcquireLock(dir, { staleMs: STALE_MS });
    expect(first).toBeDefined();
    expect(await tryAcquireLock(dir, { staleMs: STALE_MS })).toBeUndefined();
    await first?.release();
    const second = await tryAcquireLock(dir, { staleMs: STALE_MS });
    expect(second).toBeDefined();
    await second?.release();
  });

  it('breaks at once a lock whose owner is a dead process on this host', async () => {
    const dir = await lockDirIn();
    const pid = await deadPid();
    await handMadeLock(dir, { host: hostIdentity(), pid, token: 'x', since: new Date().toISOString() });
    const onBreak = vi.fn();
    const lock = await tryAcquireLock(dir, { staleMs: STALE_MS, onBreak });
    expect(lock).toBeDefined();
    expect(onBreak).toHaveBeenCalledWith(expect.objectContaining({ pid, token: 'x' }), `its owner (pid ${pid}) is no longer running`);
    const owner = JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')) as Owner;
    expect(owner.pid).toBe(process.pid);
    await lock?.release();
  });

  it('does not break a fresh lock of a live process on this host', async () => {
    const dir = await lockDirIn();
    await handMadeLock(dir, { host: hostIdentity(), pid: process.pid, token: 'x', since: new Date().toISOString() });
    expect(await tryAcquireLock(dir, { staleMs: STALE_MS })).toBeUndefined();
    expect(JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8'))).toMatchObject({ token: 'x' });
  });

  it('breaks a lock of another host whose heartbeat is older than staleMs', async () => {
    const dir = await lockDirIn();
    await handMadeLock(dir, { host: 'elsewhere/boot/pidns', pid: 1, token: 'x', since: new Date().toISOString() }, 10 * 60_000);
    const onBreak = vi.fn();
    const lock = await tryAcquireLock(dir, { staleMs: STALE_MS, onBreak });
    expect(lock).toBeDefined();
    expect(onBreak).toHaveBeenCalledTimes(1);
    expect(onBreak.mock.calls[0]?.[1]).toMatch(/^no heartbeat for \d+ s$/);
    await lock?.release();
    expect(await exists(dir)).toBe(false);
  });

  it('does not break a lock of another host with a fresh heartbeat, even if its pid is dead here', async () => {
    const dir = await lockDirIn();
    const pid = await deadPid();
    await handMadeLock(dir, { host: 'elsewhere/boot/pidns', pid, token: 'x', since: new Date().toISOString() });
    const onBreak = vi.fn();
    expect(await tryAcquireLock(dir, { staleMs: STALE_MS, onBreak })).toBeUndefined();
    expect(onBreak).not.toHaveBeenCalled();
    expect(await exists(path.join(dir, 'owner.json'))).toBe(true);
  });

  it('breaks an old lock without an owner record', async () => {
    const dir = await lockDirIn();
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'junk'), '');
    const then = new Date(Date.now() - 10 * 60_000);
    await utimes(dir, then, then);
    const lock = await tryAcquireLock(dir, { staleMs: STALE_MS });
    expect(lock).toBeDefined();
    await lock?.release();
  });

  it('leaves alone a lock that was broken and retaken by someone else when released', async () => {
    const dir = await lockDirIn();
    const lock = await tryAcquireLock(dir, { staleMs: STALE_MS });
    // Another holder replaced the owner record.
    await writeFile(path.join(dir, 'owner.json'), JSON.stringify({ host: 'elsewhere', pid: 1, token: 'other', since: '' }));
    await lock?.release();
    expect(JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8'))).toMatchObject({ token: 'other' });
  });

  it('refreshes the lock directory mtime while held (heartbeat)', async () => {
    const dir = await lockDirIn();
    const lock = await tryAcquireLock(dir, { staleMs: 300 }); // beats every 50 ms
    const then = new Date(Date.now() - 60_000);
    await utimes(dir, then, then);
    // Waits for the heartbeat however slow the machine is; the test's own timeout catches one that never comes.
    await vi.waitFor(async () => expect(Date.now() - (await stat(dir)).mtimeMs).toBeLessThan(30_000), { timeout: 15_000, interval: 25 });
    await lock?.release();
  });
});

describe('acquireLock', () => {
  it('waits for a live holder, telling onWait once, and gets the lock after its release', async () => {
    const dir = await lockDirIn();
    const first = await acquireLock(dir, { staleMs: STALE_MS });
    const onWait = vi.fn();
    const pending = acquireLock(dir, { staleMs: STALE_MS, onWait });
    await vi.waitFor(() => expect(onWait).toHaveBeenCalled(), { timeout: 15_000, interval: 10 });
    expect(onWait).toHaveBeenCalledTimes(1);
    expect(onWait.mock.calls[0]?.[0]).toMatchObject({ pid: process.pid });
    await first.release();
    const second = await pending;
    expect(second.path).toBe(dir);
    await second.release();
    expect(await exists(dir)).toBe(false);
  });
});
