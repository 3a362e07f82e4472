// EFI boot files: the kernel command line, the kernel picked from /boot, the
// systemd-boot and grub configurations, and what installBootloader puts into
// the ESP directory of a root filesystem (host commands for real; writes
// "in the image" done by a runner that stands in for chroot).
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { efiArch, grubConfig, installBootloader, kernelCmdline, pickKernel, systemdBootFiles } from '../../src/compose/boot/boot.js';
import type { DiskPlan } from '../../src/compose/disk/plan.js';
import { LocalRunner, type Runner, type StepOptions } from '../../src/docker/runner.js';
import { UserError } from '../../src/errors.js';
import type { RunResult } from '../../src/exec.js';
import type { ImageTemplate } from '../../src/template/types.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-boot-');

const plan: DiskPlan = {
  sizeBytes: 1 << 30,
  sectorSize: 512,
  table: 'gpt',
  diskId: '11111111-2222-3333-4444-555555555555',
  partitions: [
    {
      index: 1,
      id: 'esp',
      name: 'esp',
      typeGuid: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
      mbrType: '',
      startSector: 2048,
      sizeSectors: 1048576,
      fsType: 'vfat',
      fatBits: 32,
      mountPoint: '/boot/efi',
      partUuid: 'aaaaaaaa-0000-4000-8000-000000000001',
      fsUuid: 'ABCD-1234',
      flags: [],
    },
    {
      index: 2,
      id: 'rootfs',
      name: 'root',
      typeGuid: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
      mbrType: '',
      startSector: 1050624,
      sizeSectors: 1000000,
      fsType: 'ext4',
      mountPoint: '/',
      partUuid: 'bbbbbbbb-0000-4000-8000-000000000002',
      fsUuid: 'u',
      flags: [],
    },
  ],
};

const template = (over: { cmdline?: string; provider?: string; bootType?: string; arch?: string } = {}): ImageTemplate => ({
  image: { name: 'g3-test', version: '1.0' },
  target: { os: 'debian', dist: 'debian13', arch: over.arch ?? 'x86_64', imageType: 'raw' },
  systemConfig: {
    name: 't',
    kernel: { cmdline: over.cmdline ?? 'console=ttyS0 quiet' },
    bootloader: { bootType: over.bootType ?? 'efi', provider: over.provider ?? 'systemd-boot' },
  },
});

describe('kernelCmdline', () => {
  it.each([
    ['console=ttyS0 quiet', 'console=ttyS0 quiet root=PARTUUID=bbbbbbbb-0000-4000-8000-000000000002 rw'],
    ['  console=ttyS0   root=LABEL=root rw ', 'console=ttyS0 root=LABEL=root rw'],
    ['', 'root=PARTUUID=bbbbbbbb-0000-4000-8000-000000000002 rw'],
    ['noroot=1', 'noroot=1 root=PARTUUID=bbbbbbbb-0000-4000-8000-000000000002 rw'],
  ])('%j becomes %j', (cmdline, want) => {
    expect(kernelCmdline(template({ cmdline }), plan)).toBe(want);
  });

  it('refuses a layout without a root partition when it has to name one', () => {
    expect(() => kernelCmdline(template({ cmdline: '' }), { ...plan, partitions: [plan.partitions[0]!] })).toThrow(UserError);
  });
});

describe('pickKernel', () => {
  it.each([
    [['vmlinuz-6.12.1-amd64', 'initrd.img-6.12.1-amd64', 'config-6.12.1-amd64'], '6.12.1-amd64'],
    [['vmlinuz-6.1.0-9-amd64', 'initrd.img-6.1.0-9-amd64', 'vmlinuz-6.1.0-10-amd64', 'initrd.img-6.1.0-10-amd64'], '6.1.0-10-amd64'],
    [['vmlinuz-6.2', 'vmlinuz-6.1', 'initrd.img-6.1'], '6.1'],
    [['vmlinuz-6.2'], undefined],
    [[], undefined],
  ])('from %j picks %s', (names, want) => {
    expect(pickKernel(names)).toBe(want);
  });
});

describe('loader configurations', () => {
  it('boots the one systemd-boot entry at once, with kernel and initramfs from the ESP', () => {
    expect(systemdBootFiles('g3-test 1.0', 'console=ttyS0 root=LABEL=root rw')).toEqual({
      'loader/loader.conf': 'default g3.conf\ntimeout 0\neditor no\n',
      'loader/entries/g3.conf': 'title g3-test 1.0\nlinux /g3/vmlinuz\ninitrd /g3/initrd.img\noptions console=ttyS0 root=LABEL=root rw\n',
    });
  });

  it("finds the ESP by grub's search for the kernel file and keeps quotes out of the menu title", () => {
    const cfg = grubConfig("it's 1.0", 'console=ttyS0');
    expect(cfg).toContain('search --no-floppy --file --set=root /g3/vmlinuz\n');
    expect(cfg).toContain("menuentry 'its 1.0' {\n  linux /g3/vmlinuz console=ttyS0\n  initrd /g3/initrd.img\n}\n");
    expect(cfg.startsWith('set timeout=0\n')).toBe(true);
  });
});

/** Runs host commands for real and stands in for `chroot ROOT /bin/sh -c WRITE sh FILE MODE` by writing ROOT/FILE. */
class HostRunner implements Runner {
  readonly where = 'host';
  readonly calls: string[][] = [];
  private readonly local = new LocalRunner();
  async run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    this.calls.push(argv);
    if (argv[0] === 'chroot') {
      const [root, file] = [argv[1]!, argv[6]!];
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), Buffer.from(opts.input ?? ''));
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    return this.local.run(argv, opts);
  }
}

async function rootfs(files: Record<string, string>): Promise<string> {
  const root = await tempDir();
  for (const [f, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), text);
  }
  return root;
}

describe('efiArch', () => {
  it.each([
    ['x86_64', { removable: 'BOOTX64.EFI', systemdBoot: 'systemd-bootx64.efi', grubFormat: 'x86_64-efi', grubPackage: 'grub-efi-amd64-bin' }],
    ['aarch64', { removable: 'BOOTAA64.EFI', systemdBoot: 'systemd-bootaa64.efi', grubFormat: 'arm64-efi', grubPackage: 'grub-efi-arm64-bin' }],
  ])('names the removable-media loader, systemd-boot binary and grub target of %s', (arch, names) => {
    expect(efiArch(arch)).toEqual(names);
  });

  it.each([['arm64'], ['i686'], [undefined]])('refuses %s, which is no template arch it boots', (arch) => {
    expect(() => efiArch(arch)).toThrow(UserError);
  });
});

describe('installBootloader', () => {
  const kernel = { 'boot/vmlinuz-6.12.1-amd64': 'KERNEL', 'boot/initrd.img-6.12.1-amd64': 'INITRD' };

  it('puts kernel, initramfs, systemd-boot (signed build preferred) and its configuration into the ESP directory', async () => {
    const root = await rootfs({
      ...kernel,
      'usr/lib/systemd/boot/efi/systemd-bootx64.efi.signed': 'SIGNED',
      'usr/lib/systemd/boot/efi/systemd-bootx64.efi': 'PLAIN',
    });
    const events: string[] = [];
    const r = await installBootloader(new HostRunner(), {
      rootfs: root,
      template: template(),
      plan,
      emit: (e) => events.push('message' in e ? String(e.message) : ''),
    });
    expect(r).toEqual({
      provider: 'systemd-boot',
      kernelVersion: '6.12.1-amd64',
      cmdline: 'console=ttyS0 quiet root=PARTUUID=bbbbbbbb-0000-4000-8000-000000000002 rw',
    });
    const esp = path.join(root, 'boot/efi');
    const read = (f: string) => readFile(path.join(esp, f), 'utf8');
    expect(await read('g3/vmlinuz')).toBe('KERNEL');
    expect(await read('g3/initrd.img')).toBe('INITRD');
    expect(await read('EFI/BOOT/BOOTX64.EFI')).toBe('SIGNED');
    expect(await read('EFI/systemd/systemd-bootx64.efi')).toBe('SIGNED');
    expect(await read('loader/entries/g3.conf')).toContain(`options ${r?.cmdline}\n`);
    expect(events.join('\n')).toContain('kernel 6.12.1-amd64, systemd-boot');
  });

  it.each([
    ['no kernel', {}, /no kernel with an initramfs/],
    ['a kernel without initramfs', { 'boot/vmlinuz-6.1': 'K' }, /no kernel with an initramfs/],
    ['no systemd-boot binary', kernel, /no systemd-bootx64\.efi/],
  ])('refuses %s with a UserError naming what to add', async (_what, files, message) => {
    const err = await installBootloader(new HostRunner(), { rootfs: await rootfs(files), template: template(), plan, emit: () => undefined }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(message);
  });

  it('names the grub packages the image lacks', async () => {
    const err = await installBootloader(new HostRunner(), {
      rootfs: await rootfs(kernel),
      template: template({ provider: 'grub' }),
      plan,
      emit: () => undefined,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('grub is the bootloader, but the image lacks grub-common (grub-mkstandalone) and grub-efi-amd64-bin');
  });

  it('installs the aarch64 names on aarch64: BOOTAA64.EFI from systemd-bootaa64.efi, never the x86_64 binary', async () => {
    const root = await rootfs({
      'boot/vmlinuz-6.12.1-arm64': 'KERNEL',
      'boot/initrd.img-6.12.1-arm64': 'INITRD',
      'usr/lib/systemd/boot/efi/systemd-bootaa64.efi': 'AA64',
      'usr/lib/systemd/boot/efi/systemd-bootx64.efi': 'X64',
    });
    await installBootloader(new HostRunner(), { rootfs: root, template: template({ arch: 'aarch64' }), plan, emit: () => undefined });
    const esp = path.join(root, 'boot/efi');
    expect(await readFile(path.join(esp, 'EFI/BOOT/BOOTAA64.EFI'), 'utf8')).toBe('AA64');
    expect(await readFile(path.join(esp, 'EFI/systemd/systemd-bootaa64.efi'), 'utf8')).toBe('AA64');
    expect((await readdir(path.join(esp, 'EFI/BOOT'))).sort()).toEqual(['BOOTAA64.EFI']);
  });

  it('refuses an aarch64 image that has only the x86_64 systemd-boot binary', async () => {
    const root = await rootfs({ ...kernel, 'usr/lib/systemd/boot/efi/systemd-bootx64.efi': 'X64' });
    const err = await installBootloader(new HostRunner(), { rootfs: root, template: template({ arch: 'aarch64' }), plan, emit: () => undefined }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe('systemd-boot is the bootloader, but the image has no systemd-bootaa64.efi');
  });

  it('names the arm64 grub package an aarch64 image lacks', async () => {
    const root = await rootfs({ ...kernel, 'usr/bin/grub-mkstandalone': '#!/bin/sh\n', 'usr/lib/grub/x86_64-efi/normal.mod': '' });
    const err = await installBootloader(new HostRunner(), {
      rootfs: root,
      template: template({ provider: 'grub', arch: 'aarch64' }),
      plan,
      emit: () => undefined,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('grub is the bootloader, but the image lacks grub-efi-arm64-bin');
    expect((err as UserError).hint).toBe('Add grub-efi-arm64-bin and grub-common to systemConfig.packages.');
  });

  it('refuses an architecture it has no EFI names for', async () => {
    await expect(
      installBootloader(new HostRunner(), { rootfs: await rootfs(kernel), template: template({ arch: 'riscv64' }), plan, emit: () => undefined }),
    ).rejects.toThrow('no EFI boot support for target.arch "riscv64"');
  });

  it('needs a FAT partition mounted at /boot/efi', async () => {
    const noEsp = { ...plan, partitions: [plan.partitions[1]!] };
    await expect(
      installBootloader(new HostRunner(), { rootfs: await rootfs(kernel), template: template(), plan: noEsp, emit: () => undefined }),
    ).rejects.toThrow(/needs an EFI system partition/);
  });

  it('warns and installs nothing without a bootloader in the template', async () => {
    const root = await rootfs(kernel);
    const events: string[] = [];
    const t: ImageTemplate = { systemConfig: { name: 't' } };
    expect(await installBootloader(new HostRunner(), { rootfs: root, template: t, plan, emit: (e) => events.push(e.type) })).toBeUndefined();
    expect(events).toEqual(['warning']);
    expect(await readdir(path.join(root, 'boot'))).toEqual(['initrd.img-6.12.1-amd64', 'vmlinuz-6.12.1-amd64']);
  });

  it('copies only regular files: a kernel that is a symbolic link is refused', async () => {
    const root = await rootfs({ 'boot/initrd.img-6.1': 'I', elsewhere: 'K' });
    const { symlink } = await import('node:fs/promises');
    await symlink('../elsewhere', path.join(root, 'boot/vmlinuz-6.1'));
    await chmod(root, 0o755);
    await expect(installBootloader(new HostRunner(), { rootfs: root, template: template(), plan, emit: () => undefined })).rejects.toThrow(
      /is not a regular file/,
    );
  });
});
