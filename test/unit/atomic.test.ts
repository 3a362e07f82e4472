import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, lutimes, mkdir, readdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { isTempFor, placeCopy, publish, sweepTemps, tempPathFor, writeFileAtomic } from '../../src/fs/atomic.js';
import { exitCodeFor, UserError } from '../../src/errors.js';
import { ensureRealDir, UnexpectedLinkError } from '../../src/fs/safe.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-atomic-');
const SHM = '/dev/shm';
const shmUsable = existsSync(SHM);

describe('tempPathFor and isTempFor', () => {
  it('names a hidden temporary file beside the final one', () => {
    const tmp = tempPathFor('/c/tools/a.deb');
    expect(path.dirname(tmp)).toBe('/c/tools');
    expect(path.basename(tmp)).toMatch(new RegExp(`^\\.a\\.deb\\.tmp-${process.pid}-[0-9a-f]{8}$`));
    expect(isTempFor(path.basename(tmp), 'a.deb')).toBe(true);
  });

  it('gives a new name each time', () => {
    expect(tempPathFor('/c/a')).not.toBe(tempPathFor('/c/a'));
  });

  it.each([
    ['the file itself', 'a.deb'],
    ['a temp of another file', '.b.deb.tmp-1-abcd'],
    ['a temp of a file with a longer name', '.a.deb2.tmp-1-abcd'],
  ])('does not take %s for a temp of a.deb', (_what, name) => {
    expect(isTempFor(name, 'a.deb')).toBe(false);
  });
});

describe('publish', () => {
  it('renames the temporary file to its final name', async () => {
    const dir = await tempDir();
    const final = path.join(dir, 'a.deb');
    const tmp = tempPathFor(final);
    await writeFile(tmp, 'data');
    await publish(tmp, final);
    expect(await readFile(final, 'utf8')).toBe('data');
    expect(await readdir(dir)).toEqual(['a.deb']);
  });
});

describe('placeCopy', () => {
  it('hardlinks on the same filesystem (same inode) without calling verifyCopy', async () => {
    const dir = await tempDir();
    const source = path.join(dir, 'shared', 'tools', 'a.deb');
    await mkdir(path.dirname(source), { recursive: true });
    await writeFile(source, 'verified bytes');
    const dest = path.join(dir, 'local', 'tools', 'a.deb');
    const verifyCopy = vi.fn(async () => undefined);
    expect(await placeCopy(source, dest, verifyCopy)).toBe('link');
    expect((await stat(dest)).ino).toBe((await stat(source)).ino);
    expect(verifyCopy).not.toHaveBeenCalled();
    expect(await readdir(path.dirname(dest))).toEqual(['a.deb']);
  });

  it.skipIf(!shmUsable)('copies across filesystems (to /dev/shm) and checks the copy through its temporary path before publishing', async () => {
    const dir = await tempDir();
    const source = path.join(dir, 'a.deb');
    await writeFile(source, 'verified bytes');
    const shm = await tempDir(SHM);
    expect((await stat(shm)).dev).not.toBe((await stat(dir)).dev);
    const dest = path.join(shm, 'tools', 'a.deb');
    const checked: Array<{ path: string; sha: string; destExisted: boolean }> = [];
    const how = await placeCopy(source, dest, async (tmp) => {
      checked.push({
        path: tmp,
        sha: createHash('sha256')
          .update(await readFile(tmp))
          .digest('hex'),
        destExisted: existsSync(dest),
      });
    });
    expect(how).toBe('copy');
    expect(checked).toHaveLength(1);
    expect(path.dirname(checked[0]!.path)).toBe(path.dirname(dest));
    expect(isTempFor(path.basename(checked[0]!.path), 'a.deb')).toBe(true);
    expect(checked[0]!.sha).toBe(createHash('sha256').update('verified bytes').digest('hex'));
    expect(checked[0]!.destExisted).toBe(false);
    expect(await readFile(dest, 'utf8')).toBe('verified bytes');
    expect((await stat(dest)).ino).not.toBe((await stat(source)).ino);
    expect(await readdir(path.dirname(dest))).toEqual(['a.deb']);
  });

  it.skipIf(!shmUsable)('publishes nothing and leaves no temporary file when verifyCopy refuses the copy', async () => {
    const dir = await tempDir();
    const source = path.join(dir, 'a.deb');
    await writeFile(source, 'bytes');
    const shm = await tempDir(SHM);
    const dest = path.join(shm, 'a.deb');
    await expect(placeCopy(source, dest, async () => Promise.reject(new Error('copy is corrupt')))).rejects.toThrow('copy is corrupt');
    expect(await readdir(shm)).toEqual([]);
  });

  it('fails without leaving anything when the source is missing', async () => {
    const dir = await tempDir();
    const dest = path.join(dir, 'out', 'a.deb');
    await expect(placeCopy(path.join(dir, 'nope'), dest, async () => undefined)).rejects.toThrow(/ENOENT/);
    expect(await readdir(path.dirname(dest))).toEqual([]);
  });

  it('replaces an existing destination atomically', async () => {
    const dir = await tempDir();
    const source = path.join(dir, 'src');
    const dest = path.join(dir, 'dest');
    await writeFile(source, 'new');
    await writeFile(dest, 'old');
    expect(await placeCopy(source, dest, async () => undefined)).toBe('link');
    expect(await readFile(dest, 'utf8')).toBe('new');
  });
});

describe('sweepTemps', () => {
  it('removes only old temporary files of that file name', async () => {
    const dir = await tempDir();
    const old = new Date(Date.now() - 60 * 60_000);
    const names = {
      oldTemp: '.a.deb.tmp-111-aaaaaaaa',
      freshTemp: `.a.deb.tmp-${process.ppid}-bbbbbbbb`,
      oldOtherTemp: '.b.deb.tmp-333-cccccccc',
      file: 'a.deb',
      oldHidden: '.a.deb.partial',
    };
    for (const n of Object.values(names)) await writeFile(path.join(dir, n), 'x');
    for (const n of [names.oldTemp, names.oldOtherTemp, names.file, names.oldHidden]) await utimes(path.join(dir, n), old, old);
    expect(await sweepTemps(dir, 'a.deb', 10 * 60_000)).toBe(1);
    expect((await readdir(dir)).sort()).toEqual([names.freshTemp, names.oldHidden, names.oldOtherTemp, names.file].sort());
  });

  it('removes at once a fresh temporary file whose process no longer runs', async () => {
    const dir = await tempDir();
    const r = spawnSync(process.execPath, ['-e', '']);
    const dead = `.a.deb.tmp-${r.pid}-dddddddd`;
    const live = `.a.deb.tmp-${process.ppid}-eeeeeeee`;
    for (const n of [dead, live]) await writeFile(path.join(dir, n), 'x');
    expect(await sweepTemps(dir, 'a.deb', 10 * 60_000)).toBe(1);
    expect(await readdir(dir)).toEqual([live]);
  });

  it('returns 0 for a directory that does not exist', async () => {
    const dir = await tempDir();
    expect(await sweepTemps(path.join(dir, 'none'), 'a.deb', 0)).toBe(0);
  });
});

describe('placeCopy onto a link of the same inode', () => {
  it('leaves no temporary link behind when the destination already is a link of the source', async () => {
    const dir = await tempDir();
    const source = path.join(dir, 'shared', 'a.deb');
    const dest = path.join(dir, 'local', 'a.deb');
    await mkdir(path.dirname(source), { recursive: true });
    await writeFile(source, 'same inode');
    expect(await placeCopy(source, dest, async () => undefined)).toBe('link');
    // rename() between two links of one inode is a no-op: the second placement must clean up.
    expect(await placeCopy(source, dest, async () => undefined)).toBe('link');
    expect(await readdir(path.dirname(dest))).toEqual(['a.deb']);
    expect((await stat(dest)).ino).toBe((await stat(source)).ino);
  });
});

describe('no writes through symbolic links', () => {
  /** A root with `rel` linked to a victim folder that holds `a.deb`. */
  async function linked(rel: string) {
    const root = await tempDir();
    const victim = await tempDir();
    await writeFile(path.join(victim, 'a.deb'), 'victim');
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await symlink(victim, path.join(root, rel));
    return { root, victim };
  }

  it('writeFileAtomic below a root refuses a linked folder on the way with a user error naming it (exit 2)', async () => {
    const { root, victim } = await linked('.g3-stamps/tools');
    const err = await writeFileAtomic(path.join(root, '.g3-stamps', 'tools', 'a.deb'), '{"stamp":1}', false, root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnexpectedLinkError);
    expect(err).toBeInstanceOf(UserError);
    expect(exitCodeFor(err)).toBe(2);
    expect((err as Error).message).toContain(path.join(root, '.g3-stamps', 'tools'));
    expect(await readFile(path.join(victim, 'a.deb'), 'utf8')).toBe('victim');
    expect(await readdir(victim)).toEqual(['a.deb']);
  });

  it('placeCopy below a root refuses a linked section folder and leaves its target alone', async () => {
    const { root, victim } = await linked('tools');
    const src = path.join(await tempDir(), 'src.deb');
    await writeFile(src, 'new bytes');
    await expect(placeCopy(src, path.join(root, 'tools', 'a.deb'), async () => undefined, root)).rejects.toBeInstanceOf(UnexpectedLinkError);
    expect(await readdir(victim)).toEqual(['a.deb']);
    expect(await readFile(path.join(victim, 'a.deb'), 'utf8')).toBe('victim');
  });

  it('ensureRealDir with a reporter removes the link (not its target), reports it and makes a real folder', async () => {
    const { root, victim } = await linked('tools');
    const seen: string[] = [];
    await ensureRealDir(root, path.join(root, 'tools', 'sub'), (link, target) => seen.push(`${link} -> ${target}`));
    expect(seen).toEqual([`${path.join(root, 'tools')} -> ${victim}`]);
    expect((await lstat(path.join(root, 'tools'))).isDirectory()).toBe(true);
    expect(await readdir(victim)).toEqual(['a.deb']);
  });

  it('sweepTemps removes a link with a temporary name as itself, never its target', async () => {
    const dir = await tempDir();
    const victim = await tempDir();
    await writeFile(path.join(victim, 'keep'), 'x');
    const tmp = path.join(dir, '.a.deb.tmp-1-abcdef01');
    await symlink(path.join(victim, 'keep'), tmp);
    const old = new Date(Date.now() - 3_600_000);
    await lutimes(tmp, old, old);
    expect(await sweepTemps(dir, 'a.deb', 60_000)).toBe(1);
    expect(await readFile(path.join(victim, 'keep'), 'utf8')).toBe('x');
  });
});
