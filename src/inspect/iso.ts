// ISO 9660 images (imageType iso): the primary volume descriptor read from the
// file itself (volume id, size), and the boot records as xorriso reports them
// (El Torito entries per platform, the system area: hybrid MBR and GPT), with
// the file opened read-only by xorriso (-indev), never mounted.
import { open } from 'node:fs/promises';
import { StepError } from '../errors.js';
import { type RunOptions, run } from '../exec.js';
import { escapeInline } from '../text/untrusted.js';

const SECTOR = 2048;
/** The primary volume descriptor is the first descriptor, at sector 16. */
const PVD_OFFSET = 16 * SECTOR;

export interface ElToritoEntry {
  /** BIOS, UEFI, PPC or Mac, as xorriso names the platform id. */
  platform: string;
  bootable: boolean;
  /** none (no emulation), fd1.2, fd1.4, fd2.8 or hd. */
  emulation: string;
}

export interface IsoInfo {
  volumeId: string;
  /** Bytes of the ISO 9660 volume (the file may be longer: appended partitions). */
  volumeBytes: number;
  elTorito: ElToritoEntry[];
  /** What the first 32 KiB hold besides ISO 9660: e.g. "MBR protective-msdos-label grub2-mbr cyl-align-off GPT". */
  systemArea?: string;
}

/** Whether the descriptor at sector 16 is an ISO 9660 primary volume descriptor (type 1, "CD001", version 1). */
export function isIso9660(pvd: Uint8Array): boolean {
  return pvd.length >= 7 && pvd[0] === 1 && Buffer.from(pvd.subarray(1, 6)).toString('latin1') === 'CD001' && pvd[6] === 1;
}

/** Volume id and size from a primary volume descriptor (ECMA-119 8.4). */
export function parsePvd(pvd: Buffer): { volumeId: string; volumeBytes: number } {
  const volumeId = escapeInline(pvd.subarray(40, 72).toString('latin1').trimEnd());
  const blocks = pvd.readUInt32LE(80);
  const blockSize = pvd.readUInt16LE(128);
  return { volumeId, volumeBytes: blocks * blockSize };
}

/** The El Torito entries and system area summary of `xorriso -report_el_torito plain -report_system_area plain`. */
export function parseXorrisoReport(text: string): Pick<IsoInfo, 'elTorito' | 'systemArea'> {
  const elTorito: ElToritoEntry[] = [];
  let systemArea: string | undefined;
  for (const line of text.split('\n')) {
    // "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4          52"
    const m = /^El Torito boot img\s*:\s*\d+\s+(\S+)\s+([yn])\s+(\S+)/.exec(line);
    if (m) elTorito.push({ platform: escapeInline(m[1] ?? ''), bootable: m[2] === 'y', emulation: escapeInline(m[3] ?? '') });
    const s = /^System area summary:\s*(.+)$/.exec(line);
    if (s) systemArea = escapeInline((s[1] ?? '').trim());
  }
  return { elTorito, ...(systemArea ? { systemArea } : {}) };
}

/** The first sectors of `file` hold an ISO 9660 volume. */
export async function readPvd(file: string): Promise<Buffer | undefined> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(SECTOR);
    const { bytesRead } = await fh.read(buf, 0, SECTOR, PVD_OFFSET);
    return bytesRead === SECTOR && isIso9660(buf) ? buf : undefined;
  } finally {
    await fh.close();
  }
}

/** Describe the ISO `file` (whose primary volume descriptor is `pvd`): volume, El Torito catalogue, system area. */
export async function readIso(file: string, pvd: Buffer, ro: RunOptions = {}): Promise<IsoInfo> {
  const args = ['-abort_on', 'FAILURE', '-indev', file, '-report_el_torito', 'plain', '-report_system_area', 'plain'];
  const r = await run({ command: 'xorriso', args }, { ...ro, reject: false, package: 'xorriso' });
  if (r.exitCode !== 0)
    throw new StepError(`xorriso could not read ${file}: ${escapeInline(r.stderr.trim().split('\n').at(-1) ?? '')}`, {
      command: ['xorriso', ...args],
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  return { ...parsePvd(pvd), ...parseXorrisoReport(`${r.stdout}\n${r.stderr}`) };
}
