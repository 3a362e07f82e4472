// The arm64 example target builds on this x86_64 host and boots: `build` of
// `latest-arm64` from a copy of the project's catalogue with caches and a work
// folder of the test's own (every arm64 binary of the bootstrap, the composer
// image and the chroot runs through qemu-user from binfmt_misc), then the disk
// is read without mounting (sfdisk, mtools) and booted in qemu-system-aarch64
// (virt, Cortex-A57, TCG) with the AAVMF firmware to a login prompt on the
// serial console; then a second build must give the same bytes. The second build reuses the installed-package snapshot (the
// emulated install takes 18 minutes more; a second build from an empty work
// folder was compared once, see docs/image-types.md). A host without the binfmt
// registration fails here with the build's own pre-check message, never skips.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkForeignArch } from '../../src/docker/binfmt.js';
import { UserError } from '../../src/errors.js';
import { run } from '../../src/exec.js';
import { hashFile } from '../../src/fs/hash.js';
import { buildSourceDate } from '../../src/compose/source-date.js';
import { copyProjectCatalogue, ROOT, runBuilder } from '../support/project.js';
import { bootArm64ToLogin } from '../support/qemu-arm64.js';

const BUILD_LIMIT_MS = 1_800_000;
const BOOT_LIMIT_MS = 600_000;
const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const ROOT_ARM64_TYPE = 'B921B045-1DF0-41C3-AF44-4C6F280D3FAE';

describe('the arm64 target builds through qemu-user and boots', () => {
  let dir: string;
  let image: string;
  let espOffset: number;
  let types: string[];
  let buildSeconds: number;
  let carrierId: string;
  let env: Record<string, string>;
  let artifacts: Array<{ file: string; sha256: string }>;

  beforeAll(async () => {
    // The same check the build makes first; its message (with the fix) is the test's failure.
    await checkForeignArch('arm64').catch((err: unknown) => {
      throw err instanceof UserError ? new Error(`${err.message}\n${err.hint ?? ''}`) : err;
    });
    dir = await mkdtemp(path.join(tmpdir(), 'g3-arm64-'));
    const catalogue = await copyProjectCatalogue(path.join(dir, 'docker'));
    // Pinned for both builds: the default (the HEAD commit's time) would move if a commit landed between them.
    const { epoch } = await buildSourceDate(ROOT, process.env);
    env = {
      SOURCE_DATE_EPOCH: String(epoch),
      G3_TARGETS: catalogue,
      G3_CACHE_DIR: path.join(dir, 'cache'),
      G3_WORK_DIR: path.join(dir, 'work'),
      SHARED_G3_CACHE_PATH: '',
      G3_DOCKER_CLIENT: '/usr/bin/docker',
    };
    const t0 = performance.now();
    const r = await runBuilder(['latest-arm64', 'build', '--json'], env);
    buildSeconds = (performance.now() - t0) / 1000;
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      providerId: string;
      compose: { image: string; artifacts: Array<{ file: string; sha256: string }> };
      image: { id: string };
    };
    expect(doc.providerId).toBe('debian-debian13-aarch64');
    image = doc.compose.image;
    artifacts = doc.compose.artifacts;
    carrierId = doc.image.id;
    const table = JSON.parse((await run({ command: 'sfdisk', args: ['--json', image] })).stdout) as {
      partitiontable: { label: string; partitions: Array<{ start: number; type: string }> };
    };
    expect(table.partitiontable.label).toBe('gpt');
    types = table.partitiontable.partitions.map((p) => p.type.toUpperCase());
    espOffset = (table.partitiontable.partitions.find((p) => p.type.toUpperCase() === ESP_TYPE)?.start ?? 0) * 512;
  }, BUILD_LIMIT_MS);

  afterAll(async () => {
    if (dir) await run({ command: 'rm', args: ['-rf', dir] }, { reject: false });
  });

  it('lays out an ESP and a root partition of the arm64 root type', () => {
    console.info(`latest-arm64 build (cold caches, emulated): ${buildSeconds.toFixed(0)} s`);
    expect(types).toEqual([ESP_TYPE, ROOT_ARM64_TYPE]);
  });

  it('records arm64 as the platform of the base image, the composer image and the image that carries the disk image', async () => {
    const arch = async (ref: string) =>
      (await run({ command: '/usr/bin/docker', args: ['image', 'inspect', '--format', '{{.Architecture}}', ref] })).stdout.trim();
    for (const ref of ['g3-composer/base:debian-debian13-aarch64', 'g3-composer/composer:latest-arm64', carrierId]) expect(await arch(ref), ref).toBe('arm64');
  });

  it('has the arm64 loader at the removable-media path, the kernel and the console on ttyAMA0 in the ESP', async () => {
    const mtools = { env: { MTOOLS_SKIP_CHECK: '1' } };
    const listing = (await run({ command: 'mdir', args: ['-/', '-b', '-i', `${image}@@${espOffset}`, '::/'] }, mtools)).stdout;
    for (const f of ['::/EFI/BOOT/BOOTAA64.EFI', '::/EFI/systemd/systemd-bootaa64.efi', '::/g3/vmlinuz', '::/g3/initrd.img']) expect(listing).toContain(f);
    expect(listing).not.toContain('BOOTX64.EFI');
    const entry = (await run({ command: 'mtype', args: ['-i', `${image}@@${espOffset}`, '::/loader/entries/g3.conf'] }, mtools)).stdout;
    const template = await readFile(path.join(ROOT, 'defaults', 'templates', 'debian-debian13-aarch64-raw.yml'), 'utf8');
    const cmdline = /cmdline: "([^"]+)"/.exec(template)?.[1];
    expect(cmdline).toContain('console=ttyAMA0');
    expect(entry).toContain(`options ${cmdline}`);
    // An arm64 PE image: the machine field of the PE header is 0xaa64.
    const loader = path.join(dir, 'BOOTAA64.EFI');
    await run({ command: 'mcopy', args: ['-i', `${image}@@${espOffset}`, '::/EFI/BOOT/BOOTAA64.EFI', loader] }, mtools);
    const pe = await readFile(loader);
    const header = pe.readUInt32LE(0x3c);
    expect(pe.toString('latin1', header, header + 4)).toBe('PE\0\0');
    expect(pe.readUInt16LE(header + 4)).toBe(0xaa64);
  });

  it(`reaches a login prompt on the serial console in qemu-system-aarch64 with AAVMF within ${BOOT_LIMIT_MS / 1000} s; a second build then gives the same bytes`, {
    timeout: BUILD_LIMIT_MS + 60_000,
  }, async () => {
    const first = await hashFile(image);
    const again = async () => {
      const t0 = performance.now();
      // From the installed-package snapshot: the root filesystem, configuration, boot files, disk and outputs are made anew.
      const r = await runBuilder(['latest-arm64', 'build', '--json', '--rebuild'], env);
      console.info(`latest-arm64 second build (from the installed-package snapshot, emulated): ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      return JSON.parse(r.stdout) as { compose: { image: string; snapshot: string; installed: string; artifacts: Array<{ file: string; sha256: string }> } };
    };
    // One after the other: the rebuild writes the file the boot reads.
    const boot = await bootArm64ToLogin(image, BOOT_LIMIT_MS);
    const second = await again();
    expect(second.compose.installed).toBe('reused');
    expect(await hashFile(second.compose.image)).toEqual(first);
    expect(second.compose.artifacts.map((a) => [a.file, a.sha256])).toEqual(artifacts.map((a) => [a.file, a.sha256]));
    console.info(`latest-arm64 boot to login (TCG): ${boot.seconds.toFixed(0)} s`);
    expect(boot.reachedLogin, `no login prompt after ${boot.seconds.toFixed(0)} s; console tail:\n${boot.console.slice(-3000)}`).toBe(true);
    expect(boot.console).toMatch(/Debian GNU\/Linux 13 g3-arm64 ttyAMA0/);
    expect(boot.console).toMatch(/g3-arm64 login:/);
  });
});
