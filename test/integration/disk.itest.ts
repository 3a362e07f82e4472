// The raw disk image built with the real tools (sfdisk, mke2fs, mkfs.fat,
// mtools) on this machine, then read back with sfdisk --json, debugfs, blkid
// and mtools: the table, the filesystems and their content match the plan.
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleDisk } from '../../src/compose/disk/disk.js';
import { type DiskPlan, planDisk } from '../../src/compose/disk/plan.js';
import { LocalRunner } from '../../src/docker/runner.js';
import { StepError, UserError } from '../../src/errors.js';
import { run } from '../../src/exec.js';
import type { DiskTemplate } from '../../src/template/types.js';
import { useTempDirs } from '../unit/tmpdir.js';

const tempDir = useTempDirs('g3-disk-itest-');
const runner = new LocalRunner();
const MiB = 1024 * 1024;
const TREE_TIME = 1_600_000_000;

const GPT_DISK: DiskTemplate = {
  size: '64MiB',
  partitionTableType: 'gpt',
  partitions: [
    // FAT32 needs about 33MiB; FAT16 keeps the test image small.
    {
      id: 'esp',
      name: 'esp',
      type: 'esp',
      flags: ['esp', 'boot'],
      start: '1MiB',
      end: '34MiB',
      fsType: 'fat16',
      fsLabel: 'EFI',
      mountPoint: '/boot/efi',
      mountOptions: 'umask=0077',
    },
    { id: 'rootfs', name: 'root', type: 'linux-root-amd64', start: '34MiB', end: '0', fsType: 'ext4', fsLabel: 'root', mountPoint: '/' },
  ],
};

interface Build {
  dir: string;
  rootDir: string;
  stagingDir: string;
  imagePath: string;
}

/** A root tree with a hostname, a file whose name has a space, and ESP content under /boot/efi. */
async function makeBuild(): Promise<Build> {
  const dir = await tempDir();
  const rootDir = path.join(dir, 'root');
  for (const d of ['etc', 'srv', 'boot/efi/EFI/BOOT', 'boot/efi/loader']) await mkdir(path.join(rootDir, d), { recursive: true });
  await writeFile(path.join(rootDir, 'etc/hostname'), 'g3-test\n');
  await writeFile(path.join(rootDir, 'srv/with space.txt'), 'spaced out\n');
  await writeFile(path.join(rootDir, 'boot/efi/EFI/BOOT/BOOTX64.EFI'), 'not really a loader\n');
  await writeFile(path.join(rootDir, 'boot/efi/loader/loader.conf'), 'timeout 3\n');
  await fixTimes(rootDir);
  return { dir, rootDir, stagingDir: path.join(dir, 'staging'), imagePath: path.join(dir, 'disk.img') };
}

/** Give every entry under `dir` the same times, as a reproducible build's tree would have. */
async function fixTimes(dir: string, seconds = TREE_TIME): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await fixTimes(path.join(dir, e.name), seconds);
    await utimes(path.join(dir, e.name), seconds, seconds);
  }
  await utimes(dir, seconds, seconds);
}

async function assemble(b: Build, plan: DiskPlan, sourceDateEpoch?: number): Promise<string[]> {
  const progress: string[] = [];
  await assembleDisk(runner, plan, { ...b, sourceDateEpoch, onProgress: (m) => progress.push(m) });
  return progress;
}

const offsetOf = (plan: DiskPlan, id: string) => (plan.partitions.find((p) => p.id === id)?.startSector ?? -1) * 512;

async function debugfs(image: string, offset: number, request: string): Promise<string> {
  return (await run({ command: 'debugfs', args: ['-R', request, `${image}?offset=${offset}`] })).stdout;
}

async function probe(image: string, offset: number): Promise<Record<string, string>> {
  const out = (await run({ command: 'blkid', args: ['-p', '-o', 'export', '--offset', String(offset), image] })).stdout;
  return Object.fromEntries(out.split('\n').map((l) => l.split('=', 2) as [string, string]));
}

interface SfdiskPartition {
  start: number;
  size: number;
  type: string;
  uuid?: string;
  name?: string;
  bootable?: boolean;
}

async function readTable(image: string): Promise<{ label: string; id: string; partitions: SfdiskPartition[] }> {
  return JSON.parse((await run({ command: 'sfdisk', args: ['--json', image] })).stdout).partitiontable;
}

describe('assembleDisk', () => {
  it('writes a GPT image whose table, filesystems and files match the plan', async () => {
    const b = await makeBuild();
    await utimes(path.join(b.rootDir, 'boot'), 1_500_000_000, 1_500_000_000);
    await utimes(path.join(b.rootDir, 'boot/efi'), 1_400_000_000, 1_400_000_000);
    const plan = planDisk(GPT_DISK, 'itest');
    const progress = await assemble(b, plan);
    expect((await stat(b.imagePath)).size).toBe(64 * MiB);
    expect(progress[0]).toBe(`creating the 64MiB image ${b.imagePath}`);

    const table = await readTable(b.imagePath);
    expect(table.label).toBe('gpt');
    expect(table.id.toLowerCase()).toBe(plan.diskId);
    const got = table.partitions.map((p) => ({ start: p.start, size: p.size, type: p.type.toLowerCase(), uuid: p.uuid?.toLowerCase(), name: p.name }));
    expect(got).toEqual(plan.partitions.map((p) => ({ start: p.startSector, size: p.sizeSectors, type: p.typeGuid, uuid: p.partUuid, name: p.name })));

    const rootOffset = offsetOf(plan, 'rootfs');
    expect(await debugfs(b.imagePath, rootOffset, 'cat /etc/hostname')).toBe('g3-test');
    expect(await debugfs(b.imagePath, rootOffset, 'cat "/srv/with space.txt"')).toBe('spaced out');
    // The ESP's files live in the FAT filesystem only; root keeps an empty mount point.
    expect(await debugfs(b.imagePath, rootOffset, 'ls -p /boot/efi')).not.toMatch(/EFI|loader/);
    expect(await debugfs(b.imagePath, rootOffset, 'ls -p /boot')).toContain('/efi/');
    expect(await readdir(path.join(b.rootDir, 'boot/efi'))).toEqual([]);
    // Moving the ESP content out must not change the times the root filesystem records.
    expect((await lstat(path.join(b.rootDir, 'boot'))).mtimeMs).toBe(1_500_000_000_000);
    expect((await lstat(path.join(b.rootDir, 'boot/efi'))).mtimeMs).toBe(1_400_000_000_000);
    expect((await lstat(path.join(b.rootDir, 'boot/efi'))).mode & 0o7777).toBe(0o755);
    expect((await readdir(path.join(b.stagingDir, 'esp'))).sort()).toEqual(['EFI', 'loader']);

    const espOffset = offsetOf(plan, 'esp');
    const env = { MTOOLS_SKIP_CHECK: '1' };
    const listing = (await run({ command: 'mdir', args: ['-b', '-s', '-i', `${b.imagePath}@@${espOffset}`, '::/'] }, { env })).stdout;
    expect(
      listing
        .split('\n')
        .map((l) => l.trim())
        .sort(),
    ).toEqual(['::/EFI/', '::/EFI/BOOT/', '::/EFI/BOOT/BOOTX64.EFI', '::/loader/', '::/loader/loader.conf']);
    expect((await run({ command: 'mtype', args: ['-i', `${b.imagePath}@@${espOffset}`, '::/loader/loader.conf'] }, { env })).stdout).toBe('timeout 3');

    const [esp, root] = plan.partitions;
    expect(await probe(b.imagePath, espOffset)).toMatchObject({ TYPE: 'vfat', VERSION: 'FAT16', LABEL: 'EFI', UUID: esp?.fsUuid });
    expect(await probe(b.imagePath, rootOffset)).toMatchObject({ TYPE: 'ext4', LABEL: 'root', UUID: root?.fsUuid });
  });

  it('writes an MBR image with type bytes, the boot flag and the disk signature', async () => {
    const b = await makeBuild();
    const plan = planDisk({ ...GPT_DISK, partitionTableType: 'mbr' }, 'itest-mbr');
    await assemble(b, plan);
    const table = await readTable(b.imagePath);
    expect(table.label).toBe('dos');
    expect(table.id).toBe(`0x${plan.diskId}`);
    expect(table.partitions.map((p) => ({ start: p.start, size: p.size, type: p.type, bootable: p.bootable ?? false }))).toEqual([
      { start: 2048, size: 67584, type: 'ef', bootable: true },
      { start: 69632, size: 61440, type: '83', bootable: false },
    ]);
    expect(await debugfs(b.imagePath, offsetOf(plan, 'rootfs'), 'cat /etc/hostname')).toBe('g3-test');
    expect((await probe(b.imagePath, offsetOf(plan, 'esp'))).LABEL).toBe('EFI');
  });

  // Two builds 2s apart (FAT stores times in 2s steps) so a leaked "now" shows.
  // The ext4 inodes are left out: mke2fs -d copies each file's ctime, which no tree can fix.
  it('repeats the partition tables, the ESP and the ext4 superblock byte for byte for the same seed and SOURCE_DATE_EPOCH', async () => {
    const digests: Record<string, string>[] = [];
    for (let i = 0; i < 2; i++) {
      if (i > 0) await sleep(2100);
      const b = await makeBuild();
      const plan = planDisk(GPT_DISK, 'same-seed');
      await assemble(b, plan, 1_700_000_000);
      const image = await readFile(b.imagePath);
      const [espStart, rootStart] = [offsetOf(plan, 'esp'), offsetOf(plan, 'rootfs')];
      const superblock = (await run({ command: 'dumpe2fs', args: ['-h', `${b.imagePath}?offset=${rootStart}`] })).stdout;
      const parts = {
        gpt: image.subarray(0, espStart),
        backupGpt: image.subarray(image.length - 33 * 512),
        esp: image.subarray(espStart, rootStart),
        superblock,
      };
      digests.push(Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, createHash('sha256').update(v).digest('hex')])));
    }
    expect(digests[1]).toEqual(digests[0]);
  });

  it('names the partition when mkfs.fat cannot make FAT16 that small', async () => {
    const b = await makeBuild();
    const small = {
      ...GPT_DISK,
      partitions: [
        { ...GPT_DISK.partitions?.[0], end: '8MiB' },
        { ...GPT_DISK.partitions?.[1], start: '8MiB' },
      ],
    };
    const err = await assemble(b, planDisk(small, 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe('partition "esp" (1 of 2, fat16) is 7MiB, which mkfs.fat cannot format as FAT16');
  });

  it('wraps a failing mke2fs in a StepError naming the partition and the tool', async () => {
    const b = await makeBuild();
    const tiny: DiskTemplate = {
      size: '64MiB',
      partitionTableType: 'gpt',
      partitions: [
        { id: 'tiny', start: '1MiB', end: '1056K', fsType: 'ext4' },
        { id: 'rootfs', start: '2MiB', end: '0', fsType: 'ext4', mountPoint: '/' },
      ],
    };
    const err = await assemble(b, planDisk(tiny, 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toMatch(/^partition "tiny" \(1 of 2, ext4\): mke2fs: mke2fs failed with exit code 1/);
    expect((err as StepError).details.command?.[0]).toBe('mke2fs');
  });
});
