// The latest-iso target: `build` of a copy of the project's catalogue with a
// package cache of the test's own, then the real ISO in QEMU (TCG): under UEFI
// (OVMF) and BIOS (SeaBIOS) side by side to a login prompt on the serial
// console; its unattended installer onto an empty disk, which then boots alone;
// and a rebuild that must give the same SHA256.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { hashFile } from '../../src/fs/hash.js';
import { copyProjectCatalogue, runBuilder } from '../support/project.js';
import { bootIso, bootQcow2ToLogin } from '../support/qemu-iso.js';

const BOOT_LIMIT_MS = 420_000;
const INSTALL_LIMIT_MS = 900_000;

describe('the latest-iso target', () => {
  let dir: string;
  let env: Record<string, string>;
  let iso: string;
  let manifest: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'g3-iso-'));
    env = {
      G3_TARGETS: await copyProjectCatalogue(path.join(dir, 'docker')),
      G3_CACHE_DIR: path.join(dir, 'cache'),
      G3_WORK_DIR: path.join(dir, 'work'),
      SHARED_G3_CACHE_PATH: '',
      G3_DOCKER_CLIENT: '/usr/bin/docker',
      // Fixed, so a commit made while the test runs cannot change the rebuild's timestamps.
      SOURCE_DATE_EPOCH: '1767225600',
    };
    const r = await runBuilder(['latest-iso', 'build', '--json'], env);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    ({ image: iso, manifest } = (JSON.parse(r.stdout) as { compose: { image: string; manifest: string } }).compose);
  }, 1_200_000);

  afterAll(async () => {
    if (dir) await run({ command: 'rm', args: ['-rf', dir] }, { reject: false });
  });

  it('is <name>-<version>.iso, a hybrid ISO 9660 with a BIOS and a UEFI El Torito entry, listed in the manifest and described by inspect', async () => {
    expect(path.basename(iso)).toBe('g3-live-1.0.0.iso');
    const report = (await run({ command: 'xorriso', args: ['-indev', iso, '-report_el_torito', 'plain', '-report_system_area', 'plain'] })).stdout;
    expect(report).toMatch(/El Torito boot img\s*:\s*1\s+BIOS\s+y\s+none/);
    expect(report).toMatch(/El Torito boot img\s*:\s*2\s+UEFI\s+y\s+none/);
    expect(report).toMatch(/System area summary: MBR .*grub2-mbr.* GPT/);
    const files = (await run({ command: 'xorriso', args: ['-indev', iso, '-find', '/', '-type', 'f'] })).stdout;
    for (const f of ['/live/vmlinuz', '/live/initrd.img', '/live/filesystem.squashfs', '/boot/grub/grub.cfg', '/install/g3-live-1.0.0.raw.zst'])
      expect(files).toContain(`'${f}'`);
    const inspect = await runBuilder(['inspect', iso, '--json'], {});
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({
      format: 'iso',
      sha256: (await hashFile(iso)).sha256,
      iso: {
        volumeId: 'G3_LIVE_1_0_0',
        elTorito: [
          { platform: 'BIOS', bootable: true, emulation: 'none' },
          { platform: 'UEFI', bootable: true, emulation: 'none' },
        ],
      },
    });
    const doc = JSON.parse(await readFile(manifest, 'utf8')) as { outputs: Array<{ file: string; type: string; sha256: string }> };
    expect(doc.outputs[0]).toMatchObject({ file: 'g3-live-1.0.0.iso', type: 'iso', sha256: (await hashFile(iso)).sha256 });
  });

  it(`boots to a login prompt under UEFI and under BIOS, side by side, each within ${BOOT_LIMIT_MS / 1000} s; under BIOS the attended installer is driven over the serial console`, {
    timeout: BOOT_LIMIT_MS + 30_000,
  }, async () => {
    // BIOS: grub's hotkey a boots the attended entry; the installer lists the empty disk, the test picks it,
    // declines to overwrite it, then skips, and the live system goes on to its login prompt.
    const disk = path.join(dir, 'attended.qcow2');
    await run({ command: 'qemu-img', args: ['create', '-q', '-f', 'qcow2', disk, '4G'] });
    const before = await hashFile(disk);
    const attended = [
      { after: /\(attended install: choose the disk\)/, send: 'a' },
      { after: /number of the disk, or q to skip: /, send: '1\n' },
      { after: /type yes to overwrite \/dev\/vda: /, send: 'no\n' },
      { after: /number of the disk, or q to skip: /, send: 'q\n' },
    ];
    const [uefi, bios] = await Promise.all([
      bootIso(iso, { firmware: 'uefi', timeoutMs: BOOT_LIMIT_MS }),
      bootIso(iso, { firmware: 'bios', timeoutMs: BOOT_LIMIT_MS, disk, answers: attended }),
    ]);
    for (const [name, boot] of [
      ['UEFI', uefi],
      ['BIOS', bios],
    ] as const) {
      expect(boot.reachedLogin, `${name}: no login prompt after ${boot.seconds.toFixed(0)} s; console tail:\n${boot.console.slice(-3000)}`).toBe(true);
      // grub on the serial console, the live kernel from the medium, then the system's own prompt.
      expect(boot.console).toMatch(/GNU GRUB/);
      expect(boot.console).toMatch(/Debian GNU\/Linux 13 g3-live ttyS0/);
    }
    // UEFI, the default entry with no disk attached: the unattended installer finds none and leaves the live system running.
    expect(uefi.console).toMatch(/Command line: BOOT_IMAGE=\/live\/vmlinuz boot=live console=ttyS0 g3\.installer=unattended/);
    expect(uefi.console).toMatch(/g3-install: no empty disk of at least \d+ bytes: nothing installed/);
    expect(bios.answered, bios.console.slice(-3000)).toBe(attended.length);
    expect(bios.console).toMatch(/Command line: BOOT_IMAGE=\/live\/vmlinuz boot=live console=ttyS0 g3\.installer=attended/);
    expect(bios.console).toMatch(/ 1\) \/dev\/vda {2}4096 MiB/);
    expect(bios.console).toMatch(/g3-install: skipped/);
    expect(bios.console).not.toMatch(/g3-install: writing/);
    expect(await hashFile(disk)).toEqual(before);
  });

  it('installs unattended onto an empty disk, checks it by SHA256 and powers off; the disk then boots alone under UEFI', {
    timeout: INSTALL_LIMIT_MS + BOOT_LIMIT_MS + 60_000,
  }, async () => {
    const disk = path.join(dir, 'disk.qcow2');
    await run({ command: 'qemu-img', args: ['create', '-q', '-f', 'qcow2', disk, '4G'] });
    const install = await bootIso(iso, { firmware: 'uefi', timeoutMs: INSTALL_LIMIT_MS, disk });
    expect(install.console, install.console.slice(-3000)).toMatch(/g3-install: installed and verified \/dev\/vda \(sha256 [0-9a-f]{64}\)/);
    // The installer powers off; no login prompt came first.
    expect(install.reachedLogin, install.console.slice(-3000)).toBe(false);
    const boot = await bootQcow2ToLogin(disk, BOOT_LIMIT_MS);
    expect(boot.reachedLogin, `no login prompt after ${boot.seconds.toFixed(0)} s; console tail:\n${boot.console.slice(-3000)}`).toBe(true);
    expect(boot.console).toMatch(/Debian GNU\/Linux 13 g3-live ttyS0/);
    // The installed system is the raw kind's disk, not the live system: root by PARTUUID, no live-boot, no installer.
    expect(boot.console).toMatch(/Command line: .*root=PARTUUID=/);
    expect(boot.console).not.toMatch(/boot=live|g3-installer/);
  });

  it('is reproducible: a rebuild gives the same ISO, byte for byte', { timeout: 900_000 }, async () => {
    const first = await hashFile(iso);
    const r = await runBuilder(['latest-iso', 'build', '--json', '--rebuild'], env);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const again = (JSON.parse(r.stdout) as { compose: { image: string } }).compose.image;
    expect(await hashFile(again)).toEqual(first);
  });
});
