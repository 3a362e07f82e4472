// The foreign-architecture pre-check reads binfmt_misc: here a fake
// /proc/sys/fs/binfmt_misc in a temporary directory, in each state a host can
// be in (not mounted, disabled, no qemu-aarch64 entry, entry disabled, no F flag).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkForeignArch, parseBinfmtEntry } from '../../src/docker/binfmt.js';
import { UserError } from '../../src/errors.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-binfmt-');

// As Debian's qemu-user-static registers it (the kernel's own format).
const ENTRY = [
  'enabled',
  'interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P',
  'flags: PF',
  'offset 0',
  'magic 7f454c460201010000000000000000000200b700',
  'mask ffffffffffffff00fffffffffffffffffeffffff',
  '',
].join('\n');

/** A fake binfmt_misc folder: `status` and the qemu-aarch64 entry when given (undefined leaves a file out). */
async function fakeProc(files: { status?: string; entry?: string }): Promise<string> {
  const dir = await tempDir();
  if (files.status !== undefined) await writeFile(path.join(dir, 'status'), files.status);
  if (files.entry !== undefined) await writeFile(path.join(dir, 'qemu-aarch64'), files.entry);
  return dir;
}

async function failure(dir: string, arch = 'arm64'): Promise<UserError> {
  const err = await checkForeignArch(arch, dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

describe('parseBinfmtEntry', () => {
  it('reads enabled, the interpreter and the flags', () => {
    expect(parseBinfmtEntry(ENTRY)).toEqual({ enabled: true, interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P', flags: 'PF' });
  });

  it('reads a disabled entry without flags as such', () => {
    expect(parseBinfmtEntry('disabled\ninterpreter /usr/bin/qemu-aarch64-static\n')).toEqual({
      enabled: false,
      interpreter: '/usr/bin/qemu-aarch64-static',
      flags: '',
    });
  });
});

describe('checkForeignArch', () => {
  it('accepts an enabled qemu-aarch64 entry with the F flag', async () => {
    const dir = await fakeProc({ status: 'enabled\n', entry: ENTRY });
    await expect(checkForeignArch('arm64', dir)).resolves.toMatchObject({ enabled: true, flags: 'PF' });
  });

  it('says to mount binfmt_misc, install qemu-user-static and enable the entry when the folder is empty', async () => {
    const err = await failure(await fakeProc({}));
    expect(err.message).toMatch(/is not mounted$/);
    expect(err.hint).toContain('mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc');
    expect(err.hint).toContain('apt-get install qemu-user-static binfmt-support');
    expect(err.hint).toContain('update-binfmts --enable qemu-aarch64');
    expect(err.hint).toContain('F flag');
  });

  it('says to install qemu-user-static when binfmt_misc has no qemu-aarch64 entry, without asking to mount it', async () => {
    const dir = await fakeProc({ status: 'enabled\n' });
    const err = await failure(dir);
    expect(err.message).toBe(
      `building arm64 images on this host runs arm64 programs through qemu-aarch64 (qemu-user) registered in binfmt_misc, but ${dir}/qemu-aarch64 does not exist`,
    );
    expect(err.hint).toContain('apt-get install qemu-user-static binfmt-support');
    expect(err.hint).toContain('update-binfmts --enable qemu-aarch64');
    expect(err.hint).not.toContain('mount -t');
  });

  it('refuses binfmt_misc switched off as a whole', async () => {
    const err = await failure(await fakeProc({ status: 'disabled\n', entry: ENTRY }));
    expect(err.message).toMatch(/binfmt_misc is disabled/);
    expect(err.hint).toMatch(/echo 1 > .*\/status/);
  });

  it('refuses a disabled qemu-aarch64 entry and names update-binfmts --enable', async () => {
    const err = await failure(await fakeProc({ status: 'enabled\n', entry: ENTRY.replace(/^enabled/, 'disabled') }));
    expect(err.message).toMatch(/qemu-aarch64 is disabled$/);
    expect(err.hint).toBe('Enable it: update-binfmts --enable qemu-aarch64.');
  });

  it.each([
    ['P', 'flags: P'],
    ['none', 'flags: '],
    ['no flags line', ''],
  ])('refuses an entry without the F flag (%s): containers could not use it', async (_what, flagsLine) => {
    const err = await failure(await fakeProc({ status: 'enabled\n', entry: ENTRY.replace('flags: PF', flagsLine) }));
    expect(err.message).toMatch(/lacks the F flag .*so containers cannot use it$/);
    expect(err.hint).toContain('apt-get install qemu-user-static binfmt-support');
  });

  it('refuses an architecture it knows no qemu handler for', async () => {
    const err = await failure(await fakeProc({ status: 'enabled\n', entry: ENTRY }), 'riscv64');
    expect(err.message).toMatch(/"riscv64".*no qemu-user handler/);
  });
});
