// The disk plan of an overlay: the baseline's own layout (table type, disk
// GUID, partition offsets, types, GUIDs, filesystem UUIDs and labels), so the
// image the disk stage writes from the overlaid tree is laid out as the
// baseline was. Grow-only: a larger disk.size, when overlayPolicy allows it,
// extends the last partition (the root filesystem) to the new end.
import type { BaselineLayout } from '../../baseline/layout.js';
import { UserError } from '../../errors.js';
import { formatSize, parseSize } from '../../units/size.js';
import type { DiskPlan, PartitionPlan } from '../disk/plan.js';

const SECTOR = 512;
// The backup GPT (128 entries and the header) fills the last 33 sectors.
const GPT_TAIL_SECTORS = 33;

export interface OverlayDiskOptions {
  /** disk.size as the user's templates give it, else undefined (the baseline's size). */
  size?: string;
  allowDiskResize: boolean;
  /** The ESP's FAT width, read from its boot sector. */
  espFatBits: 12 | 16 | 32;
}

/** The plan that rebuilds the baseline's layout, grown to `size` when asked and allowed. */
export function overlayDiskPlan(layout: BaselineLayout, o: OverlayDiskOptions): DiskPlan {
  const base = layout.sizeBytes;
  const wanted = o.size === undefined ? base : parseSize(o.size, 'disk.size');
  if (wanted < base)
    throw new UserError(
      `disk.size ${o.size} is smaller than the baseline (${formatSize(base)}): an overlay never shrinks the disk`,
      'Remove disk.size, or give one at least as large as the baseline.',
    );
  if (wanted > base && !o.allowDiskResize)
    throw new UserError(
      `disk.size ${o.size} is larger than the baseline (${formatSize(base)}), but overlayPolicy.allowDiskResize is not true`,
      'Set overlayPolicy.allowDiskResize: true to grow the disk and its last partition, or remove disk.size.',
    );
  if (wanted % SECTOR !== 0) throw new UserError(`disk.size must be a multiple of ${SECTOR} bytes, not ${wanted}`);
  const gpt = layout.table.table === 'gpt';
  const parts = [...layout.table.partitions].sort((a, b) => a.start - b.start);
  const last = parts.at(-1);
  if (wanted > base && last?.number !== layout.root.number)
    throw new UserError(
      `the baseline's last partition is not its root filesystem (partition ${layout.root.number}), so growing the disk cannot grow the root`,
      "Remove disk.size to keep the baseline's size.",
    );
  const end = wanted / SECTOR - (gpt ? GPT_TAIL_SECTORS : 0);
  const partitions = parts.map((p): PartitionPlan => {
    const root = p.number === layout.root.number;
    const fs = root ? layout.root.filesystem : layout.esp.filesystem;
    const fsType = root ? (fs.type as 'ext4' | 'ext3' | 'ext2') : 'vfat';
    return {
      index: p.number,
      id: root ? 'rootfs' : 'esp',
      name: p.name ?? (root ? 'root' : 'esp'),
      typeGuid: gpt ? p.type.toLowerCase() : '',
      mbrType: gpt ? '' : p.type,
      startSector: p.start,
      // Only the last partition grows; every other keeps its sectors.
      sizeSectors: root && wanted > base ? end - p.start : p.sectors,
      fsType,
      ...(root ? {} : { fatBits: o.espFatBits }),
      ...(fs.label ? { fsLabel: fs.label } : {}),
      mountPoint: root ? '/' : '/boot/efi',
      partUuid: p.partUuid ?? '',
      fsUuid: fs.uuid ?? '',
      flags: [],
    };
  });
  return { sizeBytes: wanted, sectorSize: SECTOR, table: gpt ? 'gpt' : 'dos', diskId: (layout.table.diskId ?? '').toLowerCase(), partitions };
}

/** The FAT width a FAT boot sector declares (its file system type string), or undefined when it declares none. */
export function fatBitsOf(bootSector: Buffer): 12 | 16 | 32 | undefined {
  const fat32 = bootSector.toString('latin1', 82, 90).trim();
  if (fat32 === 'FAT32') return 32;
  const fat1x = bootSector.toString('latin1', 54, 62).trim();
  if (fat1x === 'FAT16') return 16;
  if (fat1x === 'FAT12') return 12;
  return undefined;
}
