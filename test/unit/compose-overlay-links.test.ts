// Hard links of an overlay's baseline (the names find lists, the inode numbers
// debugfs gives per directory, the groups made hard links again), and the
// folder its ESP is copied to.
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { espDir } from '../../src/compose/overlay/baseline.js';
import { inodeGroups, linkedPaths } from '../../src/compose/overlay/links.js';
import { parseDebugfsInodes } from '../../src/diskimage/read.js';
import { LocalRunner } from '../../src/docker/runner.js';
import { UserError } from '../../src/errors.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-overlay-');

describe('baseline hard links', () => {
  it('takes the NUL-separated names find printed, leaving out empty, absolute and escaping ones', () => {
    expect(linkedPaths('usr/bin/perl\0usr/bin/perl5.40.1\0\0/etc/x\0a/../b\0')).toEqual(['usr/bin/perl', 'usr/bin/perl5.40.1']);
  });

  it("reads each regular file's inode number from debugfs ls -p, directories and links left out", () => {
    const text = ['/2/040755/0/0/./', '/799/100755/0/0/perl/3932288/', '/799/100755/0/0/perl5.40.1/3932288/', '/812/120777/0/0/pod2man//'].join('\n');
    expect([...parseDebugfsInodes(text)]).toEqual([
      ['perl', 799],
      ['perl5.40.1', 799],
    ]);
  });

  it('groups the names of one inode, first name first, single names left out', () => {
    const inodes = new Map([
      ['usr/bin/perl5.40.1', 799],
      ['usr/bin/perl', 799],
      ['usr/lib/klibc/bin/gzip', 900],
      ['usr/lib/klibc/bin/gunzip', 900],
      ['usr/lib/klibc/bin/zcat', 900],
      ['etc/alone', 5],
    ]);
    expect(inodeGroups(inodes)).toEqual([
      ['usr/bin/perl', 'usr/bin/perl5.40.1'],
      ['usr/lib/klibc/bin/gunzip', 'usr/lib/klibc/bin/gzip', 'usr/lib/klibc/bin/zcat'],
    ]);
  });
});

describe("the baseline's ESP folder", () => {
  it('is <rootfs>/boot/efi when it is a directory or absent', async () => {
    const root = await tempDir();
    expect(await espDir(new LocalRunner(), root)).toBe(path.join(root, 'boot/efi'));
    await mkdir(path.join(root, 'boot/efi'), { recursive: true });
    expect(await espDir(new LocalRunner(), root)).toBe(path.join(root, 'boot/efi'));
  });

  it.each([['boot/efi'], ['boot']])('refuses a baseline whose /%s is a symbolic link, which mcopy would write through', async (link) => {
    const root = await tempDir();
    const outside = await tempDir();
    await mkdir(path.join(root, path.dirname(link)), { recursive: true });
    await symlink(outside, path.join(root, link));
    await expect(espDir(new LocalRunner(), root)).rejects.toThrow(new RegExp(`the baseline's /${link} is a symbolic link`));
    await expect(espDir(new LocalRunner(), root)).rejects.toBeInstanceOf(UserError);
  });
});
