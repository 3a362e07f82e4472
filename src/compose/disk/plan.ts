// The partition layout of a raw disk image, computed from a template's `disk`
// section before any tool runs: sectors, type codes, names and identifiers.
// Every identifier comes from a seed, so the same seed gives the same image
// layout byte for byte (a precondition for reproducible images).
import { createHash } from 'node:crypto';
import { UserError } from '../../errors.js';
import { parseSize } from '../../units/size.js';
import type { DiskTemplate, PartitionTemplate } from '../../template/types.js';
import { PARTITION_TYPES as TYPES } from '../../diskimage/partition-types.js';

export { partitionTypeName } from '../../diskimage/partition-types.js';

export interface PartitionPlan {
  /** 1-based position in the partition table. */
  index: number;
  id: string;
  /** GPT partition name (the template's name, else its id). */
  name: string;
  /** Lower-case GUID; empty in an MBR plan when the type has no GPT equivalent. */
  typeGuid: string;
  /** Two hex digits; empty in a GPT plan when the type has no MBR equivalent. */
  mbrType: string;
  startSector: number;
  sizeSectors: number;
  fsType?: 'ext4' | 'ext3' | 'ext2' | 'vfat';
  /** FAT width; absent for vfat means mkfs.fat picks by size. */
  fatBits?: 12 | 16 | 32;
  fsLabel?: string;
  mountPoint?: string;
  mountOptions?: string;
  /** GPT: a lower-case GUID. MBR: `<disk id>-<2-digit number>`, as the kernel names it. */
  partUuid: string;
  /** ext: a UUID; vfat: `ABCD-1234` (the volume id as blkid shows it); empty without a filesystem. */
  fsUuid: string;
  flags: string[];
}

export interface DiskPlan {
  sizeBytes: number;
  sectorSize: 512;
  table: 'gpt' | 'dos';
  /** GPT: disk GUID. MBR: 8 hex digits of the disk signature. */
  diskId: string;
  partitions: PartitionPlan[];
}

const SECTOR = 512;
// The backup GPT (128 entries of 128 bytes, then the header) fills the last 33 sectors.
const GPT_TAIL_SECTORS = 33;
const GPT_FIRST_USABLE = 34;
const EXT_LABEL_MAX = 16;
const FAT_LABEL_MAX = 11;

/** Sectors, types and identifiers for `disk`; identifiers derive from `seed`. */
export function planDisk(disk: DiskTemplate, seed: string): DiskPlan {
  const table = tableOf(disk.partitionTableType);
  const sizeBytes = parseSize(disk.size ?? '', 'disk.size');
  if (sizeBytes === 0 || sizeBytes % SECTOR !== 0) {
    throw new UserError(`disk.size must be a positive multiple of ${SECTOR} bytes, not ${sizeBytes}`, 'Write a size such as 4GiB.');
  }
  const total = sizeBytes / SECTOR;
  const firstUsable = table === 'gpt' ? GPT_FIRST_USABLE : 1;
  // One past the last sector a partition may use.
  const endLimit = table === 'gpt' ? total - GPT_TAIL_SECTORS : total;
  const diskId = table === 'gpt' ? derivedUuid(seed, 'disk') : mbrDiskId(seed);
  const parts = disk.partitions ?? [];
  if (parts.length === 0) throw new UserError('disk.partitions is empty', 'List at least a root partition mounted at /.');
  if (table === 'dos' && parts.length > 4) {
    throw new UserError(
      `disk.partitions lists ${parts.length} partitions; an MBR table holds 4 primary partitions`,
      'Use partitionTableType: gpt, or merge partitions.',
    );
  }
  const seen = new Set<string>();
  const partitions = parts.map((p, i) => {
    const plan = planPartition(p, i, { table, seed, diskId, firstUsable, endLimit, isLast: i === parts.length - 1 });
    if (seen.has(plan.id)) throw new UserError(`disk.partitions[${i}].id "${plan.id}" is used twice`, 'Give every partition its own id.');
    seen.add(plan.id);
    return plan;
  });
  checkOverlaps(partitions);
  return { sizeBytes, sectorSize: SECTOR, table, diskId, partitions };
}

interface Context {
  table: 'gpt' | 'dos';
  seed: string;
  diskId: string;
  firstUsable: number;
  endLimit: number;
  isLast: boolean;
}

function planPartition(p: PartitionTemplate, i: number, ctx: Context): PartitionPlan {
  const at = `disk.partitions[${i}]`;
  const id = p.id ?? '';
  // The id names a staging directory, so it must be a plain file name.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) {
    throw new UserError(
      `${at}.id must be a name of letters, digits, ".", "_" or "-", not ${JSON.stringify(p.id ?? '')}`,
      'Give the partition an id such as esp or rootfs.',
    );
  }
  const who = `partition "${id}" (${at})`;
  const startSector = sectors(p.start, `${at}.start`);
  const endBytes = parseSize(p.end ?? '', `${at}.end`);
  if (endBytes === 0 && !ctx.isLast) throw new UserError(`${at}.end is "0" (end of disk), which only the last partition may use`, 'Give an explicit end.');
  const end = endBytes === 0 ? ctx.endLimit : sectors(p.end, `${at}.end`);
  if (startSector < ctx.firstUsable)
    throw new UserError(`${at}.start is inside the partition table; the first usable sector is ${ctx.firstUsable}`, 'Start partitions at 1MiB.');
  if (end <= startSector) throw new UserError(`${at}.end must be after its start`, 'Check start and end: both are offsets from the start of the disk.');
  if (end > ctx.endLimit) {
    throw new UserError(
      `${at}.end is past the last usable sector ${ctx.endLimit - 1} of the disk`,
      'Use end: "0" for "to the end of the disk", or make disk.size larger.',
    );
  }
  const sizeSectors = end - startSector;
  if (ctx.table === 'dos' && end > 2 ** 32) throw new UserError(`${at} ends beyond 2TiB, which an MBR table cannot address`, 'Use partitionTableType: gpt.');
  const type = resolveType(p, ctx.table, who);
  const flags = [...(p.flags ?? [])];
  for (const f of flags) {
    const problem = flagProblem(f, ctx.table);
    if (problem) throw new UserError(`${at}.flags: ${problem}`, `Remove "${f}" from the flags of ${who}.`);
  }
  const fs = filesystemOf(p, at, who, sizeSectors);
  const mountPoint = p.mountPoint === undefined || p.mountPoint === '' || p.mountPoint === 'none' ? undefined : p.mountPoint;
  if (mountPoint !== undefined) {
    if (mountPointProblem(mountPoint)) throw new UserError(`${at}.mountPoint ${mountPointProblem(mountPoint)}`, 'Write an absolute path such as /boot/efi.');
    if (!fs.fsType) throw new UserError(`${who} is mounted at ${mountPoint} but has no filesystem`, 'Set fsType to ext4 or fat32.');
  }
  const name = p.name ?? id;
  if (ctx.table === 'gpt' && (name.length > 36 || /["\\\p{Cc}]/u.test(name))) {
    throw new UserError(
      `${at}.name ${JSON.stringify(name)} cannot be a GPT partition name (at most 36 characters, no quotes, backslashes or control characters)`,
      'Shorten the name.',
    );
  }
  const partUuid = ctx.table === 'gpt' ? derivedUuid(ctx.seed, `partition:${id}`) : `${ctx.diskId}-${(i + 1).toString(16).padStart(2, '0')}`;
  const fsUuid = !fs.fsType ? '' : fs.fsType === 'vfat' ? fatVolumeId(ctx.seed, id) : derivedUuid(ctx.seed, `filesystem:${id}`);
  return {
    index: i + 1,
    id,
    name,
    typeGuid: type.guid,
    mbrType: type.mbr,
    startSector,
    sizeSectors,
    ...fs,
    ...(p.fsLabel !== undefined && fs.fsType ? { fsLabel: p.fsLabel } : {}),
    ...(mountPoint !== undefined ? { mountPoint } : {}),
    ...(p.mountOptions !== undefined && mountPoint !== undefined ? { mountOptions: p.mountOptions } : {}),
    partUuid,
    fsUuid,
    flags,
  };
}

function tableOf(text: string | undefined): 'gpt' | 'dos' {
  if (text === 'gpt') return 'gpt';
  if (text === 'mbr' || text === 'dos') return 'dos';
  throw new UserError(`disk.partitionTableType must be gpt or mbr, not ${text ?? '(missing)'}`, 'Use gpt for UEFI machines.');
}

function sectors(text: string | undefined, field: string): number {
  const bytes = parseSize(text ?? '', field);
  if (bytes % SECTOR !== 0) throw new UserError(`${field} must be a multiple of ${SECTOR} bytes (one sector), not ${bytes}`, 'Use MiB offsets such as 1MiB.');
  return bytes / SECTOR;
}

function filesystemOf(p: PartitionTemplate, at: string, who: string, sizeSectors: number): Pick<PartitionPlan, 'fsType' | 'fatBits'> {
  const fs = p.fsType?.toLowerCase();
  if (fs === undefined || fs === '' || fs === 'none') return {};
  if (fs === 'ext4' || fs === 'ext3' || fs === 'ext2') {
    if (p.fsLabel !== undefined && Buffer.byteLength(p.fsLabel) > EXT_LABEL_MAX)
      throw new UserError(`${at}.fsLabel is longer than ${EXT_LABEL_MAX} bytes`, 'Shorten the label.');
    return { fsType: fs };
  }
  const fat = fatBitsFor(fs);
  if (fat === undefined) {
    throw new UserError(
      `${who} has fsType "${p.fsType}", which this builder cannot create`,
      'Use one of ext4, ext3, ext2, fat32, fat16, fat12, vfat, or none.',
    );
  }
  if (p.fsLabel !== undefined && !new RegExp(`^[\\x20-\\x7e]{1,${FAT_LABEL_MAX}}$`).test(p.fsLabel)) {
    throw new UserError(`${at}.fsLabel must be 1 to ${FAT_LABEL_MAX} ASCII characters for a FAT filesystem`, 'Use a short label such as EFI.');
  }
  // Fewer clusters than FAT32's minimum make firmware read the volume as FAT16;
  // mkfs.fat only warns, so refuse here (33296KiB measured with dosfstools 4.2).
  if (fat.bits === 32 && Math.floor(sizeSectors / 2) < FAT32_MIN_KIB) {
    throw new UserError(
      `${who} is too small for FAT32: ${Math.floor(sizeSectors / 2)}KiB, but FAT32 needs 65525 clusters, about ${FAT32_MIN_KIB}KiB`,
      'Make the partition at least 33MiB, or use fsType fat16 (under 4GiB) or fat12 (under 255MiB).',
    );
  }
  return fat.bits === undefined ? { fsType: 'vfat' } : { fsType: 'vfat', fatBits: fat.bits };
}

/** Smallest FAT32 filesystem, in KiB, that mkfs.fat builds without too few clusters. */
export const FAT32_MIN_KIB = 33296;

/** Why `mountPoint` cannot be a mount point, or undefined when it can. */
export function mountPointProblem(mountPoint: string): string | undefined {
  if (!mountPoint.startsWith('/')) return `must be an absolute path, not ${mountPoint}`;
  if (mountPoint.split('/').some((s) => s === '..' || s === '.')) return `must not contain . or .. segments: ${mountPoint}`;
  return undefined;
}

function checkOverlaps(parts: PartitionPlan[]): void {
  const sorted = [...parts].sort((a, b) => a.startSector - b.startSector);
  for (let k = 1; k < sorted.length; k++) {
    const [prev, cur] = [sorted[k - 1] as PartitionPlan, sorted[k] as PartitionPlan];
    if (cur.startSector < prev.startSector + prev.sizeSectors) {
      throw new UserError(`partition "${cur.id}" overlaps partition "${prev.id}"`, 'Make each start at or after the end of the partition before it.');
    }
  }
}

/** A version-4-shaped UUID from sha256(seed, purpose): looks random to tools, but repeats for the same seed. */
export function derivedUuid(seed: string, purpose: string): string {
  const b = digest(seed, purpose).subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function digest(seed: string, purpose: string): Buffer {
  return createHash('sha256').update(`g3-composer\0${purpose}\0${seed}`).digest();
}

// Zero means "no signature" to MBR tools, so it is never used.
function mbrDiskId(seed: string): string {
  const n = digest(seed, 'mbr-disk').readUInt32BE(0) || 1;
  return n.toString(16).padStart(8, '0');
}

function fatVolumeId(seed: string, id: string): string {
  const h = digest(seed, `fat-volume:${id}`).subarray(0, 4).toString('hex').toUpperCase();
  return `${h.slice(0, 4)}-${h.slice(4)}`;
}

/** The input `sfdisk` reads to write the plan's partition table. */
export function sfdiskScript(plan: DiskPlan): string {
  const gpt = plan.table === 'gpt';
  const head = [
    `label: ${plan.table}`,
    `label-id: ${gpt ? plan.diskId.toUpperCase() : `0x${plan.diskId}`}`,
    'unit: sectors',
    `sector-size: ${plan.sectorSize}`,
  ];
  // sfdisk's default first usable LBA is 2048; lower it only for a partition that starts earlier.
  const lowest = Math.min(...plan.partitions.map((p) => p.startSector));
  if (gpt && lowest < 2048) head.push(`first-lba: ${lowest}`);
  const lines = plan.partitions.map((p) => {
    const fields = [`start=${p.startSector}`, `size=${p.sizeSectors}`];
    if (gpt) {
      fields.push(`type=${p.typeGuid.toUpperCase()}`, `uuid=${p.partUuid.toUpperCase()}`, `name="${p.name}"`);
      const attrs = p.flags.map(gptAttribute).filter((a) => a !== undefined);
      if (attrs.length > 0) fields.push(`attrs="${attrs.join(' ')}"`);
    } else {
      fields.push(`type=${p.mbrType}`);
      if (p.flags.includes('boot') || p.flags.includes('legacy_boot')) fields.push('bootable');
    }
    return fields.join(', ');
  });
  return `${head.join('\n')}\n\n${lines.join('\n')}\n`;
}

// GPT attribute bits (UEFI spec and the Discoverable Partitions Specification);
// esp, boot and bios_grub are expressed by the partition type instead.
const GPT_ATTRIBUTES: Record<string, string> = {
  required: 'RequiredPartition',
  legacy_boot: 'LegacyBIOSBootable',
  read_only: 'GUID:60',
  no_automount: 'GUID:63',
};

function gptAttribute(flag: string): string | undefined {
  return GPT_ATTRIBUTES[flag];
}

const TYPE_ALIASES: Record<string, string> = {
  bios: 'bios-grub',
  'linux-data': 'linux',
  'linux-root-x86-64': 'linux-root-amd64',
  'linux-usr-x86-64': 'linux-usr-amd64',
  'linux-swap': 'swap',
  'linux-xbootldr': 'xbootldr',
  lvm: 'linux-lvm',
  raid: 'linux-raid',
};
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MBR_BYTE = /^(?:0x)?([0-9a-f]{1,2})$/i;

/** The partition's GPT type GUID and MBR type byte: typeUUID when given, else from type. */
function resolveType(p: PartitionTemplate, table: 'gpt' | 'dos', who: string): { guid: string; mbr: string } {
  const given = p.typeUUID?.trim() || undefined;
  const key = p.type?.toLowerCase().replace(/_/g, '-');
  const named = key ? TYPES[TYPE_ALIASES[key] ?? key] : undefined;
  if (key && !named && given === undefined) {
    throw new UserError(`${who} has type "${p.type}", which is not a known partition type`, `Use one of ${Object.keys(TYPES).join(', ')}, or give typeUUID.`);
  }
  if (given !== undefined && GUID.test(given)) {
    const guid = given.toLowerCase();
    // In an MBR table a GPT GUID only helps through the type it stands for.
    const mbr = named?.mbr || Object.values(TYPES).find((t) => t.guid === guid)?.mbr || '';
    if (table === 'dos' && !mbr)
      throw new UserError(
        `${who} has typeUUID ${given}, a GPT type with no MBR equivalent`,
        'Give typeUUID as an MBR type byte such as 83, or set a known type.',
      );
    return { guid, mbr };
  }
  if (given !== undefined) {
    const byte = table === 'dos' ? MBR_BYTE.exec(given)?.[1] : undefined;
    if (!byte)
      throw new UserError(
        `${who} has typeUUID "${given}", which is not ${table === 'gpt' ? 'a GUID' : 'a GUID or an MBR type byte such as 83'}`,
        'Fix typeUUID, or remove it and set type.',
      );
    return { guid: named?.guid ?? '', mbr: byte.toLowerCase().padStart(2, '0') };
  }
  const t = named ?? (TYPES.linux as { guid: string; mbr: string });
  if (table === 'dos' && !t.mbr)
    throw new UserError(`${who} has type "${p.type}", which has no MBR partition type`, 'Use partitionTableType: gpt, or another type.');
  return t;
}

const FLAGS = new Set(['esp', 'boot', 'bios_grub', ...Object.keys(GPT_ATTRIBUTES)]);
const MBR_FLAGS = new Set(['esp', 'boot', 'legacy_boot']);

/** Why `flag` cannot be set in a `table` partition table, or undefined when it can. */
function flagProblem(flag: string, table: 'gpt' | 'dos'): string | undefined {
  if (!FLAGS.has(flag)) return `"${flag}" is not a known flag (known: ${[...FLAGS].join(', ')})`;
  if (table === 'dos' && !MBR_FLAGS.has(flag)) return `"${flag}" has no meaning in an MBR table (there: ${[...MBR_FLAGS].join(', ')})`;
  return undefined;
}

const FAT_NAMES: Record<string, 12 | 16 | 32 | undefined> = { fat32: 32, fat16: 16, fat12: 12, vfat: undefined, fat: undefined };

/** FAT width for a FAT fsType name; undefined when `fs` is not FAT. */
function fatBitsFor(fs: string): { bits: 12 | 16 | 32 | undefined } | undefined {
  return fs in FAT_NAMES ? { bits: FAT_NAMES[fs] } : undefined;
}
