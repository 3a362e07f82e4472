// Checks of the disk layout: a partition table tools can write and a
// filesystem layout the image can boot from.
import { artifactProblems } from './artifacts.js';
import type { Problems } from './problems.js';
import { formatSize, sizeProblem, parseSize } from '../units/size.js';
import type { DiskTemplate, ImageTemplate, PartitionTemplate } from './types.js';

// What the disk stage can write without mounting (mkfs.ext4 -d, mkfs.fat + mtools); see src/compose/disk/plan.ts.
export const FS_TYPES: readonly string[] = ['ext4', 'ext3', 'ext2', 'vfat', 'fat32', 'fat16', 'fat12', 'fat', 'none'];
const SWAP = new Set(['swap', 'linux-swap']);
const FAT = new Set(['vfat', 'fat32']);
const SECTOR = 512;
// GPT keeps a header and 128 entries at both ends of the disk (LBA 0-33 at the
// start, the last 33 sectors at the end); MBR only the first sector.
const FIRST_USABLE: Record<string, number> = { gpt: 34 * SECTOR, mbr: SECTOR };
const TAIL: Record<string, number> = { gpt: 33 * SECTOR, mbr: 0 };
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ESP_MOUNTS = new Set(['/boot/efi', '/efi', '/boot']);

interface Extent {
  p: PartitionTemplate;
  i: number;
  start: number;
  end: number;
}

/** Check `t.disk`: table type, size, partitions in order, mount points, filesystems. */
export function validateDisk(t: ImageTemplate, out: Problems): void {
  const disk = t.disk;
  if (t.target?.imageType === 'img') {
    // An initrd image has no disk: a layout here would be silently ignored.
    if (disk) out.error(t, 'disk', 'disk', 'is not used by imageType img (the whole system is the initramfs, in RAM): remove it');
    return;
  }
  // An ISO needs a disk only for its installer (validate.ts checks that).
  if (!disk && t.target?.imageType === 'iso') return;
  if (!disk) {
    out.error(t, 'disk', 'disk', 'is required: the image needs a disk layout (size, partitionTableType, partitions)');
    return;
  }
  const table = disk.partitionTableType;
  if (table !== 'gpt' && table !== 'mbr') out.error(disk, 'partitionTableType', 'disk.partitionTableType', `must be gpt or mbr, not ${table ?? '(missing)'}`);
  const size = bytes(disk, 'size', 'disk.size', out);
  const parts = disk.partitions ?? [];
  if (parts.length === 0) out.error(disk, 'partitions', 'disk.partitions', 'must list at least one partition');
  const extents = checkPartitions(disk, parts, table ?? 'gpt', size, out);
  checkOverlaps(extents, out);
  checkMounts(t, parts, out);
  checkArtifacts(disk, out);
}

/** An overlay's disk: no layout (the baseline's), a size when given (to grow to), and its artifacts. */
export function validateOverlayDisk(t: ImageTemplate, out: Problems): void {
  const disk = t.disk;
  if (!disk) return;
  if (disk.size !== undefined) bytes(disk, 'size', 'disk.size', out);
  checkArtifacts(disk, out);
}

function checkArtifacts(disk: DiskTemplate, out: Problems): void {
  // Unsupported artifact types, compressions or repeats are caught here, not when finalize runs.
  for (const m of artifactProblems(disk.artifacts)) {
    const at = m.indexOf(': ');
    const path = m.slice(0, at);
    // Point at the entry or its field, so the message carries that line.
    const [, index, field] = /^disk\.artifacts\[(\d+)\](?:\.(\w+))?$/.exec(path) ?? [];
    const list = disk.artifacts as unknown[] | undefined;
    const item = index === undefined ? undefined : list?.[Number(index)];
    if (item && typeof item === 'object' && field) out.error(item, field, path, m.slice(at + 2));
    else if (index !== undefined && Array.isArray(list)) out.error(list, Number(index), path, m.slice(at + 2));
    else out.error(disk, 'artifacts', path, m.slice(at + 2));
  }
}

/** A size field in bytes, or undefined (after reporting) when missing or unreadable. */
function bytes(obj: object, key: string, path: string, out: Problems): number | undefined {
  const v = (obj as Record<string, string | undefined>)[key];
  if (v === undefined) {
    out.error(obj, key, path, 'is required');
    return undefined;
  }
  const problem = sizeProblem(v);
  if (problem) out.error(obj, key, path, problem);
  return problem ? undefined : parseSize(v, path);
}

function checkPartitions(disk: DiskTemplate, parts: PartitionTemplate[], table: string, size: number | undefined, out: Problems): Extent[] {
  const ids = new Map<string, number>();
  const extents: Extent[] = [];
  const first = FIRST_USABLE[table] ?? SECTOR;
  const lastUsable = size === undefined ? undefined : size - (TAIL[table] ?? 0);
  parts.forEach((p, i) => {
    const path = `disk.partitions[${i}]`;
    if (!p.id) out.error(p, 'id', `${path}.id`, 'is required');
    else if (ids.has(p.id)) out.error(p, 'id', `${path}.id`, `repeats id "${p.id}" of disk.partitions[${ids.get(p.id)}]`);
    else ids.set(p.id, i);
    if (p.typeUUID !== undefined && table === 'gpt' && !GUID.test(p.typeUUID)) out.error(p, 'typeUUID', `${path}.typeUUID`, `is not a GUID: ${p.typeUUID}`);
    const start = bytes(p, 'start', `${path}.start`, out);
    let end = bytes(p, 'end', `${path}.end`, out);
    if (end === 0) {
      // "0" means "to the end of the disk", which only the last partition can do.
      const last = i === parts.length - 1;
      if (!last) out.error(p, 'end', `${path}.end`, 'is "0" (end of disk), which only the last partition may use');
      end = last ? lastUsable : undefined;
    }
    for (const [key, v] of [
      ['start', start],
      ['end', end],
    ] as const) {
      if (v !== undefined && v % SECTOR !== 0) out.error(p, key, `${path}.${key}`, `must be a multiple of ${SECTOR} bytes (one sector), not ${v}`);
    }
    if (start !== undefined && start < first)
      out.error(p, 'start', `${path}.start`, `is inside the ${table} partition table; the first usable byte is ${first}`);
    if (start === undefined || end === undefined) return;
    if (start >= end) out.error(p, 'end', `${path}.end`, `(${formatSize(end)}) must be after start (${formatSize(start)})`);
    else if (lastUsable !== undefined && end > lastUsable) {
      const why = table === 'gpt' ? ' (the backup GPT needs the last 33 sectors)' : '';
      out.error(p, 'end', `${path}.end`, `(${formatSize(end)}) is past the end of disk.size ${disk.size}: last usable offset is ${lastUsable}${why}`);
    } else extents.push({ p, i, start, end });
  });
  return extents;
}

function checkOverlaps(extents: Extent[], out: Problems): void {
  const sorted = [...extents].sort((a, b) => a.start - b.start);
  for (let k = 1; k < sorted.length; k++) {
    const [prev, cur] = [sorted[k - 1] as Extent, sorted[k] as Extent];
    if (cur.start < prev.end) {
      const name = prev.p.id ? `"${prev.p.id}"` : `disk.partitions[${prev.i}]`;
      out.error(
        cur.p,
        'start',
        `disk.partitions[${cur.i}].start`,
        `(${formatSize(cur.start)}) overlaps partition ${name}, which ends at ${formatSize(prev.end)}`,
      );
    }
  }
}

function checkMounts(t: ImageTemplate, parts: PartitionTemplate[], out: Problems): void {
  const mounts = new Map<string, number>();
  parts.forEach((p, i) => {
    const path = `disk.partitions[${i}]`;
    const fs = p.fsType;
    if (fs !== undefined && !FS_TYPES.includes(fs)) out.error(p, 'fsType', `${path}.fsType`, `"${fs}" is not supported (use one of ${FS_TYPES.join(', ')})`);
    const mp = p.mountPoint;
    if (mp === undefined || mp === '' || mp === 'none') return;
    if (fs !== undefined && SWAP.has(fs)) out.error(p, 'mountPoint', `${path}.mountPoint`, `must not be set on a ${fs} partition`);
    if (fs === undefined) out.error(p, 'fsType', `${path}.fsType`, `is required for a partition mounted at ${mp}`);
    if (!mp.startsWith('/') || mp.split('/').some((s) => s === '..' || s === '.') || (mp !== '/' && mp.endsWith('/')) || mp.includes('//')) {
      out.error(p, 'mountPoint', `${path}.mountPoint`, `must be an absolute, normalised path such as /boot/efi, not ${mp}`);
    }
    const prior = mounts.get(mp);
    if (prior !== undefined) out.error(p, 'mountPoint', `${path}.mountPoint`, `${mp} is already the mount point of disk.partitions[${prior}]`);
    else mounts.set(mp, i);
  });
  if (parts.length > 0 && !mounts.has('/')) out.error(t.disk, 'partitions', 'disk.partitions', 'has no partition mounted at /');
  if (t.systemConfig?.bootloader?.bootType === 'efi') {
    const esp = parts.some((p) => p.mountPoint !== undefined && ESP_MOUNTS.has(p.mountPoint) && FAT.has(p.fsType ?? ''));
    if (!esp && parts.length > 0)
      out.error(
        t.disk,
        'partitions',
        'disk.partitions',
        `has no EFI system partition (fsType vfat or fat32 mounted at ${[...ESP_MOUNTS].join(', ')}), which bootType efi needs`,
      );
  }
}
