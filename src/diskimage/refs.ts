// What an image file is, and which other files it names, read from its own
// header before qemu-img opens it: qemu-img (even `info`) follows a VMDK
// descriptor's extents and a qcow2's external data file, and `convert` reads
// backing files, so an image could make inspect read /etc/shadow. Only the
// formats checked here are ever named to qemu-img; anything else is read as raw.
import { type FileHandle, open } from 'node:fs/promises';

/** The qemu-img driver for the file (raw when none of ours matches) and the files it refers to. */
export interface ImageProbe {
  format: 'raw' | 'qcow' | 'qcow2' | 'vmdk' | 'vpc' | 'vhdx';
  /** e.g. "backing file /srv/base.qcow2", "extent /etc/shadow". */
  refs: string[];
  /** A text VMDK descriptor: nothing but references to other files. */
  descriptor?: boolean;
}

/** Headers and descriptors are read at most this far. */
const HEAD = 1024 * 1024;
const SECTOR = 512;

/** Read what `file` is and what it refers to, from its first bytes (and a VHD's footer). */
export async function probeImage(file: string): Promise<ImageProbe> {
  // The user named this file: a link to an image is followed, as every tool after this does.
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, Math.min(HEAD, size));
    const magic = head.subarray(0, 8).toString('latin1');
    if (magic.startsWith('QFI\xfb')) return qcow(head);
    if (magic.startsWith('KDMV')) return { format: 'vmdk', refs: await sparseVmdkRefs(fh, head) };
    if (magic.startsWith('COWD')) return { format: 'vmdk', refs: [] };
    if (magic === 'vhdxfile') return { format: 'vhdx', refs: [] };
    if (magic === 'conectix') return vhd(head);
    if (isVmdkDescriptor(head)) return { format: 'vmdk', refs: descriptorRefs(head.toString('latin1')), descriptor: true };
    if (size >= SECTOR) {
      const footer = await readAt(fh, size - SECTOR, SECTOR);
      if (footer.subarray(0, 8).toString('latin1') === 'conectix') return vhd(footer);
    }
    return { format: 'raw', refs: [] };
  } finally {
    await fh.close();
  }
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

const u32 = (b: Buffer, at: number) => (at + 4 <= b.length ? b.readUInt32BE(at) : 0);
const u64 = (b: Buffer, at: number) => (at + 8 <= b.length ? b.readBigUInt64BE(at) : 0n);

// qcow (version 1) and qcow2 (versions 2 and 3), as qemu's docs/interop/qcow2.txt lays them out.
const QCOW2_EXT_DATA_FILE = 0x44415441;
const QCOW2_INCOMPAT_DATA_FILE = 1n << 2n;

function qcow(head: Buffer): ImageProbe {
  const version = u32(head, 4);
  const refs: string[] = [];
  const backingOffset = u64(head, 8);
  if (backingOffset !== 0n) {
    const at = Number(backingOffset);
    const len = Math.min(u32(head, 16), 1023);
    refs.push(`backing file ${at + len <= head.length ? head.subarray(at, at + len).toString('utf8') : '(name beyond the header)'}`);
  }
  if (version < 2) return { format: 'qcow', refs };
  let dataFile: string | undefined;
  // Header extensions follow the header (72 bytes in version 2, header_length in 3), up to the end marker.
  let at = version >= 3 ? u32(head, 100) : 72;
  while (at + 8 <= head.length) {
    const type = u32(head, at);
    const len = u32(head, at + 4);
    if (type === 0) break;
    if (type === QCOW2_EXT_DATA_FILE) dataFile = head.subarray(at + 8, Math.min(at + 8 + len, head.length)).toString('utf8');
    at += 8 + Math.ceil(len / 8) * 8;
  }
  const incompatible = version >= 3 ? u64(head, 72) : 0n;
  if (dataFile !== undefined || (incompatible & QCOW2_INCOMPAT_DATA_FILE) !== 0n)
    refs.push(`external data file ${dataFile ?? '(named when the image is opened)'}`);
  return { format: 'qcow2', refs };
}

/** A sparse VMDK whose capacity is 0 takes its extents from its embedded descriptor (qemu's vmdk_open_vmdk4). */
async function sparseVmdkRefs(fh: FileHandle, head: Buffer): Promise<string[]> {
  const capacity = head.length >= 20 ? head.readBigUInt64LE(12) : 0n;
  const descOffset = head.length >= 36 ? head.readBigUInt64LE(28) : 0n;
  const descSize = head.length >= 44 ? head.readBigUInt64LE(36) : 0n;
  if (descOffset === 0n || descSize === 0n) return [];
  const length = Number(descSize > BigInt(HEAD / SECTOR) ? BigInt(HEAD) : descSize * BigInt(SECTOR));
  const text = (await readAt(fh, Number(descOffset) * SECTOR, length)).toString('latin1').split('\0')[0] ?? '';
  const refs = descriptorRefs(text);
  // With a capacity of its own the file is its only extent; the descriptor's extent line is not followed.
  return capacity === 0n ? refs : refs.filter((r) => !r.startsWith('extent '));
}

/** As qemu's vmdk_probe: comment and blank lines, then "version=N". */
function isVmdkDescriptor(head: Buffer): boolean {
  const text = head.subarray(0, 64 * 1024).toString('latin1');
  for (const line of text.split('\n')) {
    const l = line.replace(/\r$/, '');
    if (l.startsWith('#') || l.trim() === '') continue;
    return /^version=\d+$/.test(l);
  }
  return false;
}

/** The files a VMDK descriptor names: its extents and its parent. */
function descriptorRefs(text: string): string[] {
  const refs: string[] = [];
  for (const line of text.split('\n')) {
    const extent = /^\s*(?:RW|RDONLY|NOACCESS)\s+\d+\s+\w+\s+"([^"]*)"/.exec(line);
    if (extent) refs.push(`extent ${extent[1]}`);
    const parent = /^\s*parentFileNameHint\s*=\s*"([^"]*)"/.exec(line);
    if (parent) refs.push(`parent ${parent[1]}`);
  }
  return refs;
}

/** A VHD footer (at the start of a dynamic VHD, the end of a fixed one); disk type 4 is a differencing disk. */
function vhd(footer: Buffer): ImageProbe {
  return { format: 'vpc', refs: u32(footer, 60) === 4 ? ['parent disk (a differencing VHD)'] : [] };
}
