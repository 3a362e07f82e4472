// Tier order, write-back and corruption handling, with the real CLI against a
// real origin on 127.0.0.1.
import { appendFile, mkdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { badFinalFiles, finalFiles, inode, makeProject, type Project, runBuilder, tempFiles } from '../support/project.js';

let p: Project;
beforeEach(async () => {
  p = await makeProject({ count: 6 });
});
afterEach(async () => {
  await p.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: reports are checked field by field below
const json = (out: string) => JSON.parse(out) as Record<string, any>;
const rel = (f: { section: string; file: string }) => path.join(f.section, f.file);

describe('cache through the tiers', () => {
  it('downloads every item once on a cold run, verifies it and writes it back to the shared tier', async () => {
    const r = await runBuilder(['latest', 'cache', '--json'], p.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = json(r.stdout);
    expect(report.downloads).toBe(6);
    expect(report.hits).toEqual({ local: 0, shared: 0, registry: 0, origin: 6 });
    expect(report.writtenBack).toBe(6);
    for (const f of p.files) expect(p.origin.requests(`/${f.section}/${f.file}`)).toBe(1);
    expect(await finalFiles(p.local)).toEqual(p.files.map(rel).sort());
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
    expect(await badFinalFiles(p.shared, p.files)).toEqual([]);
    expect(await finalFiles(p.shared)).toEqual(p.files.map(rel).sort());
    // Same filesystem: the shared copy is a hardlink of the local one.
    const f = p.files[0]!;
    expect(await inode(path.join(p.shared, rel(f)))).toBe(await inode(path.join(p.local, rel(f))));
  });

  it('downloads nothing on a second run', async () => {
    expect((await runBuilder(['latest', 'cache'], p.env)).code).toBe(0);
    p.origin.resetCounts();
    const r = await runBuilder(['latest', 'cache', '--json'], p.env);
    expect(r.code).toBe(0);
    expect(json(r.stdout).hits).toEqual({ local: 6, shared: 0, registry: 0, origin: 0 });
    expect(p.origin.totalRequests()).toBe(0);
  });

  it('fills an empty local tier from the shared tier by hardlink, without the origin', async () => {
    expect((await runBuilder(['latest', 'cache'], p.env)).code).toBe(0);
    await rm(p.local, { recursive: true });
    p.origin.resetCounts();
    const r = await runBuilder(['latest', 'cache', '--json'], p.env);
    expect(r.code).toBe(0);
    const report = json(r.stdout);
    expect(report.hits).toEqual({ local: 0, shared: 6, registry: 0, origin: 0 });
    expect(report.linkedFromShared).toBe(6);
    expect(p.origin.totalRequests()).toBe(0);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
  });

  it('copies from a shared tier on another filesystem and verifies the copy', async () => {
    const shm = await mkdtempIn('/dev/shm');
    try {
      const env = { ...p.env, SHARED_G3_CACHE_PATH: shm };
      expect((await runBuilder(['latest', 'cache'], env)).code).toBe(0);
      await rm(p.local, { recursive: true });
      p.origin.resetCounts();
      const r = await runBuilder(['latest', 'cache', '--json'], env);
      expect(r.code).toBe(0);
      expect(json(r.stdout).copiedFromShared).toBe(6);
      expect(p.origin.totalRequests()).toBe(0);
      expect(await badFinalFiles(p.local, p.files)).toEqual([]);
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });

  it('takes no shared lock on a warm run when local and shared copies are separate files', async () => {
    const shm = await mkdtempIn('/dev/shm');
    try {
      const env = { ...p.env, SHARED_G3_CACHE_PATH: shm };
      expect((await runBuilder(['latest', 'cache'], env)).code).toBe(0);
      // Any attempt to lock would now fail: the lock folder is a plain file.
      await rm(path.join(shm, '.g3-locks'), { recursive: true, force: true });
      await writeFile(path.join(shm, '.g3-locks'), 'not a directory');
      const r = await runBuilder(['latest', 'cache', '--json'], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(json(r.stdout).hits.local).toBe(6);
      expect(json(r.stdout).writtenBack).toBe(0);
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });

  it('writes a local hit back to a shared tier that lacks it', async () => {
    const noShared = { ...p.env, SHARED_G3_CACHE_PATH: '' };
    expect((await runBuilder(['latest', 'cache'], noShared)).code).toBe(0);
    expect(await finalFiles(p.shared)).toEqual([]);
    const r = await runBuilder(['latest', 'cache', '--json'], p.env);
    expect(r.code).toBe(0);
    expect(json(r.stdout).hits.local).toBe(6);
    expect(json(r.stdout).writtenBack).toBe(6);
    expect(await badFinalFiles(p.shared, p.files)).toEqual([]);
    expect(await finalFiles(p.shared)).toHaveLength(6);
  });

  it.each([
    ['a flipped byte', async (f: string) => flipByte(f)],
    ['a truncated file', async (f: string) => truncate(f, 100)],
    ['an appended byte', async (f: string) => appendFile(f, 'x')],
  ])('replaces a local copy with %s from the shared tier', async (_name, damage) => {
    expect((await runBuilder(['latest', 'cache'], p.env)).code).toBe(0);
    const f = p.files[2]!;
    const localFile = path.join(p.local, rel(f));
    // Break the link first so only the local copy is damaged.
    const data = await readFile(localFile);
    await rm(localFile);
    await writeFile(localFile, data);
    await damage(localFile);
    p.origin.resetCounts();
    const r = await runBuilder(['latest', 'cache', '--json'], p.env);
    expect(r.code).toBe(0);
    const report = json(r.stdout);
    expect(report.corrupt).toEqual([expect.objectContaining({ item: `${f.section}/${f.file}`, tier: 'local' })]);
    expect(report.hits.shared).toBe(1);
    expect(p.origin.totalRequests()).toBe(0);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
  });

  it('replaces a corrupt shared copy from the origin when the local one is missing', async () => {
    expect((await runBuilder(['latest', 'cache'], p.env)).code).toBe(0);
    const f = p.files[1]!;
    await rm(path.join(p.local, rel(f)));
    const sharedFile = path.join(p.shared, rel(f));
    const data = await readFile(sharedFile);
    await rm(sharedFile);
    data[10] = (data[10]! + 1) % 256;
    await writeFile(sharedFile, data);
    p.origin.resetCounts();
    const r = await runBuilder(['latest', 'cache', '--json'], p.env);
    expect(r.code).toBe(0);
    const report = json(r.stdout);
    expect(report.corrupt).toEqual([expect.objectContaining({ tier: 'shared' })]);
    expect(report.hits.origin).toBe(1);
    expect(p.origin.requests(`/${f.section}/${f.file}`)).toBe(1);
    expect(await badFinalFiles(p.shared, p.files)).toEqual([]);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
  });

  it('trusts the stamp of an unchanged file but --verify rehashes and catches a same-size, same-mtime change', async () => {
    expect((await runBuilder(['latest', 'cache', '--shared-cache', ''], { ...p.env, SHARED_G3_CACHE_PATH: '' })).code).toBe(0);
    const f = p.files[0]!;
    const file = path.join(p.local, rel(f));
    const env = { ...p.env, SHARED_G3_CACHE_PATH: '' };
    // A whole-second mtime can be restored exactly after the damage.
    await utimes(file, 1_700_000_000, 1_700_000_000);
    expect((await runBuilder(['latest', 'cache'], env)).code).toBe(0); // rehash, new stamp
    await flipByte(file);
    await utimes(file, 1_700_000_000, 1_700_000_000); // hide the change from the stamp
    expect((await stat(file)).mtimeMs).toBe(1_700_000_000_000);
    const warm = await runBuilder(['latest', 'cache', '--check'], env);
    expect(warm.code).toBe(0); // the stamp vouches for it (BitBake-style trade-off)
    const forced = await runBuilder(['latest', 'cache', '--check', '--verify'], env);
    expect(forced.code).toBe(1);
    expect(forced.stdout).toContain(`${f.section}/${f.file}: sha256`);
    const fixed = await runBuilder(['latest', 'cache', '--verify', '--json'], env);
    expect(fixed.code).toBe(0);
    expect(json(fixed.stdout).corrupt).toHaveLength(1);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
  });

  it('warns once and uses local and origin when the shared tier does not exist', async () => {
    const r = await runBuilder(['latest', 'cache'], { ...p.env, SHARED_G3_CACHE_PATH: path.join(p.dir, 'nope') });
    expect(r.code).toBe(0);
    expect(r.stderr.match(/warning: shared cache .* does not exist/g)).toHaveLength(1);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
  });

  it('reads from a read-only shared tier, warns once and writes nothing there', async () => {
    const mnt = path.join(p.dir, 'ro');
    await mkdir(mnt);
    await mountTmpfs(mnt, 'rw');
    try {
      const env = { ...p.env, SHARED_G3_CACHE_PATH: mnt };
      expect((await runBuilder(['latest', 'cache'], env)).code).toBe(0);
      await remount(mnt, 'ro');
      await rm(p.local, { recursive: true });
      p.origin.resetCounts();
      const r = await runBuilder(['latest', 'cache', '--json'], env);
      expect(r.code).toBe(0);
      expect(r.stderr.match(/warning: shared cache .* is read-only/g)).toHaveLength(1);
      expect(json(r.stdout).hits.shared).toBe(6);
      expect(p.origin.totalRequests()).toBe(0);
      expect(await tempFiles(mnt)).toEqual([]);
    } finally {
      await umount(mnt);
    }
  });
});

async function flipByte(file: string): Promise<void> {
  const data = await readFile(file);
  data[0] = data[0]! ^ 0xff;
  await writeFile(file, data);
}

async function mkdtempIn(dir: string): Promise<string> {
  const { mkdtemp } = await import('node:fs/promises');
  return mkdtemp(path.join(dir, 'g3-itest-'));
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((ok, fail) => execFile(cmd, args, (err, _o, stderr) => (err ? fail(new Error(`${cmd} ${args.join(' ')}: ${stderr}`)) : ok())));
}
const mountTmpfs = (dir: string, mode: string) => sh('mount', ['-t', 'tmpfs', '-o', `${mode},size=64m`, 'tmpfs', dir]);
const remount = (dir: string, mode: string) => sh('mount', ['-o', `remount,${mode}`, dir]);
const umount = (dir: string) => sh('umount', [dir]);
