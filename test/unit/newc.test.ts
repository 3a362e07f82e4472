// The newc archive the ISO appends to the initramfs it boots: read back by
// cpio(1) and by inspect's reader, a multiple of 4 bytes long, the same bytes
// every time, and refusing member names that would leave the root.
import { spawnSync } from 'node:child_process';
import { readFile, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newcArchive, type NewcEntry, parentDirs } from '../../src/compose/iso/newc.js';
import { CpioReader, listCpio } from '../../src/inspect/cpio.js';
import { useTempDirs } from './tmpdir.js';

const tmp = useTempDirs();
const EPOCH = 1_700_000_000;

const FILES: NewcEntry[] = [
  { type: 'file', path: 'usr/local/sbin/g3-install', mode: 0o755, data: '#!/bin/sh\necho hi\n' },
  { type: 'file', path: 'etc/g3-installer.conf', mode: 0o644, data: 'IMAGE=x.raw.gz\n' },
  { type: 'symlink', path: 'etc/systemd/system/multi-user.target.wants/g3-installer.service', target: '/etc/systemd/system/g3-installer.service' },
];
const ENTRIES: NewcEntry[] = [...parentDirs(FILES.map((f) => f.path)).map((d) => ({ type: 'dir' as const, path: d, mode: 0o755 })), ...FILES];

describe('newc archives', () => {
  it('lists each parent folder once, parents first', () => {
    expect(parentDirs(['a/b/c', 'a/d', 'e'])).toEqual(['a', 'a/b']);
    expect(parentDirs(FILES.map((f) => f.path))).toEqual([
      'etc',
      'usr',
      'etc/systemd',
      'usr/local',
      'etc/systemd/system',
      'usr/local/sbin',
      'etc/systemd/system/multi-user.target.wants',
    ]);
  });

  it('is read back by cpio(1) with its modes, times and link, and is the same bytes every time', async () => {
    const dir = await tmp();
    const archive = newcArchive(ENTRIES, EPOCH);
    expect(Buffer.from(newcArchive(ENTRIES, EPOCH)).equals(Buffer.from(archive))).toBe(true);
    expect(archive.length % 4).toBe(0);
    const file = path.join(dir, 'a.cpio');
    await writeFile(file, archive);
    const out = path.join(dir, 'out');
    const r = spawnSync('sh', ['-c', 'mkdir -p "$1" && cd "$1" && cpio -idm --quiet --no-absolute-filenames < "$2"', 'sh', out, file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const script = path.join(out, 'usr/local/sbin/g3-install');
    expect(await readFile(script, 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect((await stat(script)).mode & 0o7777).toBe(0o755);
    expect(Math.floor((await stat(script)).mtimeMs / 1000)).toBe(EPOCH);
    expect(await readlink(path.join(out, 'etc/systemd/system/multi-user.target.wants/g3-installer.service'))).toBe('/etc/systemd/system/g3-installer.service');
  });

  it("is read back by inspect's reader", async () => {
    const dir = await tmp();
    const file = path.join(dir, 'b.cpio');
    const single = newcArchive(ENTRIES, EPOCH);
    await writeFile(file, single);
    const members = await listCpio(file, 'b.cpio');
    expect(members.map((m) => m.name)).toContain('/etc/g3-installer.conf');
    expect(await new CpioReader(file, members).readFile('/etc/g3-installer.conf')).toBe('IMAGE=x.raw.gz\n');
    expect(await new CpioReader(file, members).linkTarget('/etc/systemd/system/multi-user.target.wants/g3-installer.service')).toBe(
      '/etc/systemd/system/g3-installer.service',
    );
  });

  it.each(['/etc/passwd', '../x', 'a/../../x', 'a\0b'])('refuses the member name %j', (name) => {
    expect(() => newcArchive([{ type: 'file', path: name, mode: 0o644, data: '' }], EPOCH)).toThrow(/unsafe member name/);
  });
});
