// What a baseline raw image holds, read without mounting it: its partition
// table, the root filesystem (ext2/3/4 with /etc/os-release) and the ESP, the
// bootloader the ESP shows, and the dpkg database of the root filesystem.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { bootFromEsp, ExtReader, listFat, type PartitionInfo, type PartitionTable, probeFilesystem, readPartitionTable } from '../diskimage/read.js';
import { StepError, UserError } from '../errors.js';
import { run } from '../exec.js';
import { escapeInline } from '../text/untrusted.js';
import type { BaselineFormat } from '../template/overlay/spec.js';
import { qemuDriver } from './source.js';

/** The ESP's type GUID (GPT) and type byte (MBR). */
const ESP_TYPES = new Set(['C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'ef']);
/** The most the baseline's dpkg database may hold (a Debian system with thousands of packages has a few MB). */
export const MAX_STATUS_BYTES = 64 * 1024 * 1024;
/** Where g3-composer's boot stage puts the kernel in the ESP (compose/boot/boot.ts ESP_KERNEL_DIR). */
const G3_KERNEL = 'g3/vmlinuz';

export interface BaselineLayout {
  sizeBytes: number;
  table: PartitionTable;
  /** The ext2/3/4 partition with /etc/os-release. */
  root: PartitionInfo & { filesystem: { type: string } };
  /** The FAT EFI system partition. */
  esp: PartitionInfo & { filesystem: { type: string } };
  /** The bootloader the ESP shows (systemd-boot or grub). */
  loader: string;
}

/** Read the layout of a raw baseline image; a layout the overlay cannot rebuild is bad input naming the partition. */
export async function readBaselineLayout(raw: string, sizeBytes: number, shown: string): Promise<BaselineLayout> {
  const table = await readPartitionTable(raw);
  if (!table) throw new UserError(`the baseline image ${escapeInline(shown)} has no partition table`);
  let root: BaselineLayout['root'] | undefined;
  let esp: BaselineLayout['esp'] | undefined;
  for (const p of table.partitions) {
    const fs = await probeFilesystem(raw, p.offset, p.size);
    const part = { ...p, ...(fs ? { filesystem: fs } : {}) };
    const what = `partition ${p.number}${p.name ? ` (${escapeInline(p.name)})` : ''} of the baseline ${escapeInline(shown)}`;
    if (fs && ESP_TYPES.has(p.type) && fs.type === 'vfat' && !esp) esp = { ...part, filesystem: fs };
    else if (fs && /^ext[234]$/.test(fs.type) && !root && (await new ExtReader(raw, p.offset).readFile('/etc/os-release')) !== undefined)
      root = { ...part, filesystem: fs };
    else
      throw new UserError(
        `${what} is ${fs ? `a ${escapeInline(fs.type)} filesystem` : 'no filesystem blkid knows'} that is neither the ESP nor the root filesystem`,
        'Overlay builds take a baseline with an EFI system partition and one ext4 root partition (as g3-composer makes them).',
      );
  }
  if (!root) throw new UserError(`the baseline image ${escapeInline(shown)} has no ext2/3/4 root filesystem with /etc/os-release`);
  if (!esp) throw new UserError(`the baseline image ${escapeInline(shown)} has no EFI system partition (FAT)`);
  const files = await listFat(raw, esp.offset);
  const boot = bootFromEsp(files);
  if (!files.some((f) => f.toLowerCase() === G3_KERNEL) || !boot.loader)
    throw new UserError(
      `the ESP of the baseline ${escapeInline(shown)} has no ${G3_KERNEL}: it was not made by g3-composer's boot stage`,
      "Overlay builds regenerate the kernel, initramfs and loader entries in g3-composer's ESP layout; images made by other tools are not supported yet.",
    );
  return { sizeBytes, table, root, esp, loader: boot.loader };
}

/** The baseline root filesystem's dpkg database, as text. */
export async function readBaselineStatus(raw: string, root: PartitionInfo, shown: string): Promise<string> {
  const text = await new ExtReader(raw, root.offset).readFile('/var/lib/dpkg/status');
  if (text === undefined) throw new UserError(`the baseline ${escapeInline(shown)} has no /var/lib/dpkg/status: it is not a Debian system`);
  if (Buffer.byteLength(text) > MAX_STATUS_BYTES)
    throw new UserError(
      `the dpkg database of the baseline ${escapeInline(shown)} is over ${MAX_STATUS_BYTES / 1024 / 1024} MiB: not a system the overlay takes`,
    );
  return text;
}

/**
 * Run `fn` with the baseline as a raw file: the file itself when it is raw,
 * else a sparse raw copy made by qemu-img in a folder under `scratchDir`,
 * removed afterwards.
 */
export async function withRawBaseline<T>(file: string, format: BaselineFormat, scratchDir: string, fn: (raw: string) => Promise<T>): Promise<T> {
  if (format === 'raw') return fn(file);
  const dir = await mkdtemp(path.join(scratchDir, 'g3-baseline-'));
  try {
    const raw = path.join(dir, 'baseline.raw');
    await convertToRaw(file, format, raw);
    return await fn(raw);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** qemu-img convert to a sparse raw file, with the format named (never probed). */
export async function convertToRaw(file: string, format: BaselineFormat, raw: string): Promise<void> {
  const args = ['convert', '-q', '-f', qemuDriver(format), '-O', 'raw', file, raw];
  const r = await run({ command: 'qemu-img', args }, { reject: false, package: 'qemu-utils' });
  if (r.exitCode !== 0)
    throw new StepError(`qemu-img could not convert the baseline ${escapeInline(file)} to raw: ${escapeInline(r.stderr.trim())}`, {
      command: ['qemu-img', ...args],
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
}
