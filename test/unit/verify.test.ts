import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropStamp, identityOf, stampMatches, writeStamp } from '../../src/cache/stamp.js';
import { STAMP_DIR, stampPath } from '../../src/layout/paths.js';
import { verifyFile } from '../../src/cache/verify.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-verify-');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** A tier root holding section/file with `content`, and its stamp path. */
async function fixture(content = 'hello g3-cache') {
  const root = await tempDir();
  const file = path.join(root, 'tools', 'a.deb');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  return { root, file, stamp: stampPath(root, 'tools', 'a.deb'), expect: { sha256: sha(content), size: Buffer.byteLength(content) } };
}

describe('stampPath', () => {
  it('puts stamps under the hidden stamp directory, by section and file', () => {
    expect(stampPath('/c', 'tools', 'a.deb')).toBe(path.join('/c', STAMP_DIR, 'tools', 'a.deb'));
    expect(STAMP_DIR.startsWith('.')).toBe(true);
  });
});

describe('stamps', () => {
  const id = { size: 3, mtimeNs: '1', ino: '2', dev: '3' };

  it('matches a written stamp only for the same identity and sha256', async () => {
    const root = await tempDir();
    const p = path.join(root, 'deep', 'stamp');
    await writeStamp(root, p, id, 'abc');
    expect(await stampMatches(p, id, 'abc')).toBe(true);
    expect(await stampMatches(p, id, 'abd')).toBe(false);
    for (const change of [{ size: 4 }, { mtimeNs: '9' }, { ino: '9' }, { dev: '9' }]) {
      expect(await stampMatches(p, { ...id, ...change }, 'abc')).toBe(false);
    }
  });

  it('does not match a missing or unreadable stamp', async () => {
    const root = await tempDir();
    expect(await stampMatches(path.join(root, 'none'), id, 'abc')).toBe(false);
    await writeFile(path.join(root, 'junk'), '{not json');
    expect(await stampMatches(path.join(root, 'junk'), id, 'abc')).toBe(false);
  });

  it('drops a stamp, and dropping a missing one is harmless', async () => {
    const root = await tempDir();
    const p = path.join(root, 'stamp');
    await writeStamp(root, p, id, 'abc');
    await dropStamp(root, p);
    expect(await exists(p)).toBe(false);
    await expect(dropStamp(root, p)).resolves.toBeUndefined();
  });

  it('records the identity from a bigint stat as strings and a number size', () => {
    expect(identityOf({ size: 5n, mtimeNs: 1700000000123456789n, ino: 42n, dev: 7n })).toEqual({
      size: 5,
      mtimeNs: '1700000000123456789',
      ino: '42',
      dev: '7',
    });
  });
});

describe('verifyFile', () => {
  it('says missing for an absent file', async () => {
    const f = await fixture();
    expect(await verifyFile({ root: f.root, file: path.join(f.root, 'tools', 'nope.deb'), stamp: f.stamp }, f.expect)).toEqual({ state: 'missing' });
  });

  it('says bad for a file of the wrong size, without hashing it', async () => {
    const f = await fixture();
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, { ...f.expect, size: f.expect.size + 1 })).toEqual({
      state: 'bad',
      reason: `size ${f.expect.size} bytes, expected ${f.expect.size + 1}`,
    });
    expect(await exists(f.stamp)).toBe(false);
  });

  it('says bad for a file with the wrong sha256, and writes no stamp', async () => {
    const f = await fixture();
    const wrong = sha('other');
    const v = await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, { sha256: wrong, size: f.expect.size });
    expect(v).toEqual({ state: 'bad', reason: `sha256 ${f.expect.sha256.slice(0, 16)}…, expected ${wrong.slice(0, 16)}…` });
    expect(await exists(f.stamp)).toBe(false);
  });

  it('hashes a file the first time and trusts its stamp the second time', async () => {
    const f = await fixture();
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect)).toEqual({ state: 'ok', how: 'hash', size: f.expect.size });
    expect(JSON.parse(await readFile(f.stamp, 'utf8'))).toMatchObject({ sha256: f.expect.sha256, size: f.expect.size });
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect)).toEqual({ state: 'ok', how: 'stamp', size: f.expect.size });
  });

  it('accepts a file when no size is expected', async () => {
    const f = await fixture();
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, { sha256: f.expect.sha256 })).toMatchObject({ state: 'ok', how: 'hash' });
  });

  it('says bad after the content changes with the same size, despite the stamp', async () => {
    const f = await fixture('aaaa');
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect)).toMatchObject({ state: 'ok', how: 'hash' });
    const { mtimeMs } = await stat(f.file);
    await writeFile(f.file, 'bbbb');
    // A write within the filesystem's timestamp granularity may keep the mtime: set a later one, as any later write would.
    await utimes(f.file, new Date(), new Date(mtimeMs + 1000));
    const v = await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect);
    expect(v.state).toBe('bad');
    expect(v.state === 'bad' && v.reason).toMatch(/^sha256 /);
  });

  it('does not trust a stamp after the mtime changes, even with the same content', async () => {
    const f = await fixture();
    await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect);
    await utimes(f.file, new Date(2001, 0, 1), new Date(2001, 0, 1));
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect)).toMatchObject({ state: 'ok', how: 'hash' });
  });

  it('rehashes with force: true even when the stamp matches', async () => {
    const f = await fixture();
    await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect);
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect, { force: true })).toMatchObject({ state: 'ok', how: 'hash' });
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect)).toMatchObject({ state: 'ok', how: 'stamp' });
  });

  it('writes no stamp with stamp: false', async () => {
    const f = await fixture();
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect, { stamp: false })).toMatchObject({ state: 'ok', how: 'hash' });
    expect(await exists(f.stamp)).toBe(false);
    expect(await exists(path.join(f.root, STAMP_DIR))).toBe(false);
    expect(await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect, { stamp: false })).toMatchObject({ state: 'ok', how: 'hash' });
  });

  it('says bad for a symlink to a good file (not a regular file)', async () => {
    const f = await fixture();
    const link = path.join(f.root, 'tools', 'link.deb');
    await symlink(f.file, link);
    expect(await verifyFile({ root: f.root, file: link, stamp: f.stamp }, f.expect)).toEqual({ state: 'bad', reason: 'not a regular file' });
  });

  it('says bad for a directory in place of the file', async () => {
    const f = await fixture();
    const dir = path.join(f.root, 'tools', 'dir.deb');
    await mkdir(dir);
    expect(await verifyFile({ root: f.root, file: dir, stamp: f.stamp }, f.expect)).toEqual({ state: 'bad', reason: 'not a regular file' });
  });

  it('does not trust a stamp written for another sha256', async () => {
    const f = await fixture();
    await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, f.expect);
    const v = await verifyFile({ root: f.root, file: f.file, stamp: f.stamp }, { ...f.expect, sha256: sha('x') });
    expect(v.state).toBe('bad');
  });

  it('says missing for a file reached through a linked section folder, and never judges or stamps it', async () => {
    const f = await fixture();
    const victim = await tempDir();
    await writeFile(path.join(victim, 'b.deb'), 'hello g3-cache');
    await symlink(victim, path.join(f.root, 'linked'));
    const file = path.join(f.root, 'linked', 'b.deb');
    expect(await verifyFile({ root: f.root, file, stamp: stampPath(f.root, 'linked', 'b.deb') }, f.expect)).toEqual({ state: 'missing' });
    expect(await exists(path.join(f.root, STAMP_DIR))).toBe(false);
  });

  it('stops with a link error instead of stamping through a linked stamp folder', async () => {
    const f = await fixture();
    const victim = await tempDir();
    await mkdir(path.join(f.root, STAMP_DIR), { recursive: true });
    await symlink(victim, path.join(f.root, STAMP_DIR, 'tools'));
    await expect(verifyFile(f, f.expect)).rejects.toThrow(/symbolic link where a directory was expected/);
    expect(await readdir(victim)).toEqual([]);
  });
});
