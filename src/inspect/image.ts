// `inspect`: what a built image file holds (partitions, filesystems, OS,
// packages, SBOM, bootloader), read without mounting it. A compressed or
// non-raw image is first expanded into a temporary raw file, removed afterwards;
// the input itself is only ever read.
import { open, rm, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '../fs/hash.js';
import { type SpdxDocument, sbomSummary } from '../compose/outputs/sbom.js';
import { parseDpkgStatus } from '../deb/status.js';
import { StepError, UserError } from '../errors.js';
import { makeTempDir } from '../fs/temp.js';
import { type RunOptions, run } from '../exec.js';
import { type Emit, silent } from '../log/events.js';
import { type ImageProbe, probeImage } from '../diskimage/refs.js';
import { escapeInline } from '../text/untrusted.js';
import { CpioReader, isNewcCpio, listCpio } from './cpio.js';
import { type IsoInfo, readIso, readPvd } from './iso.js';
import {
  bootFromEsp,
  ExtReader,
  type FilesystemInfo,
  listFat,
  osFromRelease,
  type PartitionInfo,
  probeFilesystem,
  readPartitionTable,
} from '../diskimage/read.js';

export type { FilesystemInfo, PartitionInfo } from '../diskimage/read.js';

export type Compression = 'gz' | 'xz' | 'zstd';

export interface ImageReport {
  /** The path as given. */
  file: string;
  /** Bytes of the file as given (compressed, when it is). */
  size: number;
  sha256: string;
  /** raw, qcow2, vhd, vhdx, vmdk (qemu-img's name for anything else). */
  format: string;
  compression?: Compression;
  /** Bytes of the disk the image describes. */
  virtualSize: number;
  table: 'gpt' | 'dos' | undefined;
  diskId?: string;
  partitions: PartitionInfo[];
  /** The filesystem of an image without a partition table. */
  filesystem?: FilesystemInfo;
  os?: { prettyName: string; id: string; versionId?: string; partition?: number };
  packages?: number;
  sbom?: { file: string; name: string; packages: number; licensed: number; noAssertion: number };
  boot?: { efi: boolean; loader?: string; entries?: string[] };
  /** An initrd image (format cpio): its member count and what the kernel runs, /init (a link's target when it is one). */
  initramfs?: { members: number; init?: string };
  /** An ISO 9660 image (format iso, imageType iso): volume, El Torito boot entries, system area (hybrid MBR, GPT). */
  iso?: IsoInfo;
}

// Magic numbers at the start of each compressed format (gzip RFC 1952, xz file format, zstd RFC 8878).
const MAGIC: Array<[string, number[]]> = [
  ['gz', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['lz4', [0x04, 0x22, 0x4d, 0x18]],
];
const SUPPORTED = new Set(['gz', 'xz', 'zstd']);
const SUFFIX = /\.(gz|xz|zst)$/;

/** The compression the first bytes of a file show (including ones inspect cannot read); undefined for none. */
export function detectCompression(head: Uint8Array): string | undefined {
  return MAGIC.find(([, magic]) => magic.every((b, i) => head[i] === b))?.[0];
}

/** Report on the image `file`: a disk (raw, qcow2, vhd, vhdx or vmdk) or an initrd (newc cpio), optionally gzip, xz or zstd compressed. */
export async function inspectImage(file: string, o: { emit?: Emit; tempDir?: string } = {}): Promise<ImageReport> {
  const emit = o.emit ?? silent;
  const ro: RunOptions = { trace: (line) => emit({ type: 'debug', message: line }) };
  const abs = path.resolve(file);
  const st = await stat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new UserError(`${file} does not exist`, 'Give the path of an image the build wrote (in its output directory).');
    throw new UserError(`cannot read ${file}: ${err.message}`, 'Check the path and its permissions.');
  });
  if (!st.isFile()) throw new UserError(`${file} is not a regular file`, 'Give the path of an image file, such as out/<name>.raw or <name>.qcow2.xz.');
  // An ISO (imageType iso) is read as it is: its volume descriptor and boot records, nothing unpacked.
  const pvd = await readPvd(abs);
  if (pvd) {
    const [digest, iso] = await Promise.all([hashFile(abs), readIso(abs, pvd, ro)]);
    return { file, size: st.size, sha256: digest.sha256, format: 'iso', virtualSize: iso.volumeBytes, table: undefined, partitions: [], iso };
  }
  const found = detectCompression(await readAt(abs, 0, 8));
  if (found && !SUPPORTED.has(found))
    throw new UserError(
      `${file} is compressed with ${found}, which inspect does not read`,
      `Decompress it first, or build the image with compression gz, xz or zstd.`,
    );
  const compression = found as Compression | undefined;
  if (!compression && SUFFIX.test(abs))
    emit({ type: 'warning', message: `${file} is named like a compressed file but is not compressed; reading it as it is` });

  // A converted or decompressed image is as large as its disk: it goes where temp_dir says.
  const tmp = await makeTempDir('g3-inspect-', o.tempDir);
  try {
    const [digest, disk] = await Promise.all([hashFile(abs), openAsRaw(abs, file, compression, tmp, ro, emit)]);
    const report: ImageReport = {
      file,
      size: st.size,
      sha256: digest.sha256,
      format: disk.format,
      ...(compression ? { compression } : {}),
      virtualSize: disk.virtualSize,
      table: undefined,
      partitions: [],
    };
    if (disk.format === 'cpio') await readInitramfs(disk.raw, report, file, emit);
    else await readContents(disk.raw, report, file, ro, emit);
    return report;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** `length` bytes at `position` of a file (fewer near its end). */
async function readAt(file: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** A raw view of the image in `tmp`: a link to the input when it is raw already, else a decompressed or converted copy. */
async function openAsRaw(
  abs: string,
  file: string,
  compression: Compression | undefined,
  tmp: string,
  ro: RunOptions,
  emit: Emit,
): Promise<{ raw: string; format: string; virtualSize: number }> {
  const raw = path.join(tmp, 'disk.raw');
  let src = abs;
  if (compression) {
    emit({ type: 'info', message: `decompressing ${file} (${compression}) into a temporary file` });
    src = await decompress(abs, file, compression, tmp, ro);
  }
  // An initrd image: a cpio archive, read as it is (qemu-img knows no such format).
  if (isNewcCpio(await readAt(src, 0, 6))) return { raw: src, format: 'cpio', virtualSize: (await stat(src)).size };
  // Before qemu-img sees the file: refuse one that names other files, and name its format, so qemu-img never probes.
  const probe = await probeImage(src);
  if (probe.refs.length > 0 || probe.descriptor) {
    const what = probe.refs.length > 0 ? probe.refs.map(escapeInline).join(', ') : 'no extent of its own';
    throw new UserError(
      `${file} refers to other files (${what}); inspect reads only self-contained images and opens none of them`,
      'Inspect a standalone image: qemu-img convert -O qcow2 (or raw) makes one from an image and the files it refers to.',
    );
  }
  const info = await qemuInfo(src, file, probe.format, ro);
  if (info.format === 'raw') {
    // Tools get a link with a plain name: image paths may hold "?", "@@" or ":", which they parse.
    if (src === abs) await symlink(abs, raw);
    // qemu-img rounds a raw file's size up to whole sectors; the file's own size is the disk's.
    return { raw: src === abs ? raw : src, format: 'raw', virtualSize: (await stat(src)).size };
  }
  emit({ type: 'info', message: `converting ${file} (${info.format}) to a temporary raw image` });
  const args = ['convert', '-U', '-f', info.format, '-O', 'raw', src, raw];
  const r = await run({ command: 'qemu-img', args }, { ...ro, reject: false, package: 'qemu-utils' });
  if (r.exitCode !== 0)
    throw new StepError(`qemu-img could not convert ${file} (${info.format}) to raw: ${r.stderr.trim()}`, {
      command: ['qemu-img', ...args],
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  if (src !== abs) await unlink(src);
  return { raw, format: info.format === 'vpc' ? 'vhd' : info.format, virtualSize: info.virtualSize };
}

/** Decompress into `tmp`; a truncated or corrupt file is the user's to fix. */
async function decompress(abs: string, file: string, compression: Compression, tmp: string, ro: RunOptions): Promise<string> {
  const out = path.join(tmp, 'decompressed');
  let cmd: string[];
  if (compression === 'zstd') cmd = ['zstd', '-d', '-q', '-f', '-o', out, '--', abs];
  else {
    // gzip and xz write beside their input: give them a link in tmp, which -f lets them follow and -k keeps.
    const link = `${out}.${compression}`;
    await symlink(abs, link);
    cmd = compression === 'gz' ? ['gzip', '-d', '-k', '-f', '-n', '-q', '--', link] : ['xz', '-d', '-k', '-f', '-q', '--', link];
  }
  const [command = '', ...args] = cmd;
  const r = await run({ command, args }, { ...ro, reject: false, package: compression === 'zstd' ? 'zstd' : compression === 'xz' ? 'xz-utils' : 'gzip' });
  // gzip exits 2 for a warning (trailing garbage) after decompressing all of the data.
  if (r.exitCode === 0 || (compression === 'gz' && r.exitCode === 2)) return out;
  const why = r.stderr.trim().split('\n').at(-1) ?? '';
  if (/No space left|Input\/output error|Disk quota/i.test(r.stderr)) {
    throw new StepError(`cannot decompress ${file} into ${tmp}: ${why}`, { command: cmd, exitCode: r.exitCode, stderr: r.stderr });
  }
  throw new UserError(
    `${file} is ${compression}-compressed but cannot be decompressed (truncated or corrupt): ${why}`,
    'Copy or build the image again; compare its SHA256 with the one the build printed.',
  );
}

/** qemu-img's view of an image, opened with the format we read from its header: format and virtual size. */
async function qemuInfo(src: string, file: string, format: ImageProbe['format'], ro: RunOptions): Promise<{ format: string; virtualSize: number }> {
  const args = ['info', '-U', '--output=json', '-f', format, src];
  const r = await run({ command: 'qemu-img', args }, { ...ro, reject: false, package: 'qemu-utils' });
  if (r.exitCode !== 0)
    throw new UserError(`qemu-img cannot read ${file} as ${format}: ${r.stderr.trim()}`, 'Check that the file is a disk image and was copied completely.');
  const json = JSON.parse(r.stdout) as QemuInfo;
  // A second line of defence, should our header reading miss something qemu-img found.
  const refs = [
    json['backing-filename'] ? `backing file ${json['backing-filename']}` : '',
    json['format-specific']?.data?.['data-file'] ? `external data file ${json['format-specific'].data['data-file']}` : '',
    ...(json['format-specific']?.data?.extents ?? []).filter((e) => e.filename !== src).map((e) => `extent ${e.filename}`),
  ].filter(Boolean);
  if (refs.length > 0)
    throw new UserError(
      `${file} refers to other files (${refs.map(escapeInline).join(', ')})`,
      'Inspect a standalone image (qemu-img convert merges an image with the files it refers to).',
    );
  return { format: json.format, virtualSize: json['virtual-size'] };
}

interface QemuInfo {
  format: string;
  'virtual-size': number;
  'backing-filename'?: string;
  'format-specific'?: { type: string; data?: { 'data-file'?: string; extents?: { filename: string }[] } };
}

/** Fill in the partitions, filesystems, OS, packages, SBOM and bootloader of a raw image. */
async function readContents(raw: string, report: ImageReport, file: string, ro: RunOptions, emit: Emit): Promise<void> {
  // sfdisk cannot even open a file shorter than one sector.
  if (report.virtualSize < 512)
    throw new UserError(
      `${file} is not a disk image: its disk is ${report.virtualSize} bytes, less than one sector`,
      'Give the path of an image the build wrote.',
    );
  const table = await readPartitionTable(raw, ro);
  if (table) {
    Object.assign(report, { table: table.table, ...(table.diskId ? { diskId: table.diskId } : {}), partitions: table.partitions });
    for (const p of table.partitions) {
      const fs = await probeFilesystem(raw, p.offset, p.size, ro);
      if (fs) p.filesystem = fs;
    }
  } else {
    const fs = await probeFilesystem(raw, 0, report.virtualSize, ro);
    if (!fs)
      throw new UserError(
        `${file} is not a disk image: it has neither a partition table nor a filesystem`,
        'Give the path of an image the build wrote (.raw, .qcow2, .vhd, .vhdx or .vmdk, optionally .gz, .xz or .zst).',
      );
    report.filesystem = fs;
  }
  const volumes = table ? table.partitions : [{ number: 0, offset: 0, filesystem: report.filesystem }];
  for (const v of volumes) {
    if (!/^ext[234]$/.test(v.filesystem?.type ?? '')) continue;
    const ext = new ExtReader(raw, v.offset, ro);
    // os-release(5): /etc/os-release first, /usr/lib/os-release when it is missing.
    const release = (await ext.readFile('/etc/os-release')) ?? (await ext.readFile('/usr/lib/os-release'));
    if (release === undefined) continue;
    report.os = { ...osFromRelease(release), ...(v.number > 0 ? { partition: v.number } : {}) };
    const status = await ext.readFile('/var/lib/dpkg/status');
    if (status !== undefined) report.packages = parseDpkgStatus(status).filter((s) => s.state === 'installed').length;
    const sbom = await readSbom(ext, emit);
    if (sbom) report.sbom = sbom;
    break;
  }
  const fat = volumes.filter((v) => v.filesystem?.type === 'vfat');
  const esp = fat.find((v) => 'typeName' in v && v.typeName === 'esp') ?? fat[0];
  if (esp) report.boot = bootFromEsp(await listFat(raw, esp.offset, ro));
}

/** The OS, packages and SBOM of an initrd image, and what its kernel runs; read from the archive, nothing unpacked. */
async function readInitramfs(archive: string, report: ImageReport, file: string, emit: Emit): Promise<void> {
  const cpio = new CpioReader(archive, await listCpio(archive, file));
  const init = cpio.member('/init');
  const target = init ? await cpio.linkTarget('/init') : undefined;
  report.initramfs = { members: cpio.members.length, ...(init ? { init: target ?? '/init' } : {}) };
  const release = (await cpio.readFile('/etc/os-release')) ?? (await cpio.readFile('/usr/lib/os-release'));
  if (release !== undefined) report.os = osFromRelease(release);
  const status = await cpio.readFile('/var/lib/dpkg/status');
  if (status !== undefined) report.packages = parseDpkgStatus(status).filter((s) => s.state === 'installed').length;
  const sbom = await readSbom(cpio, emit);
  if (sbom) report.sbom = sbom;
}

/** What readSbom needs of a filesystem or archive reader. */
interface FileReader {
  readFile(file: string): Promise<string | undefined>;
  listFiles(dir: string): Promise<string[]>;
}

/** The SBOM the build put into the image; a missing or unreadable one is a warning, not a failure. */
async function readSbom(ext: FileReader, emit: Emit): Promise<ImageReport['sbom']> {
  const dir = '/usr/share/sbom';
  const names = (await ext.listFiles(dir)).filter((n) => n.endsWith('.spdx.json'));
  const name = names[0];
  if (!name) return undefined;
  if (names.length > 1) emit({ type: 'warning', message: `the image has ${names.length} SBOMs in ${dir}; reporting ${name}` });
  const sbomFile = `${dir}/${name}`;
  const text = (await ext.readFile(sbomFile)) ?? '';
  try {
    const doc = JSON.parse(text) as SpdxDocument;
    if (!Array.isArray(doc.packages) || typeof doc.name !== 'string') throw new Error('it has no name or no packages list');
    return { file: sbomFile, name: doc.name, ...sbomSummary(doc) };
  } catch (err) {
    emit({ type: 'warning', message: `the image's SBOM ${sbomFile} is not an SPDX JSON document (${(err as Error).message}); leaving it out` });
    return undefined;
  }
}

/** Bytes in binary units, one decimal below 10 ("1.5 GiB", "64 MiB"). */
function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${n < 10 && i > 0 ? n.toFixed(1).replace(/\.0$/, '') : Math.round(n)} ${units[i]}`;
}

function describeFs(fs: FilesystemInfo | undefined): string {
  if (!fs) return 'no filesystem found';
  return [fs.type, fs.label ? `label ${fs.label}` : '', fs.uuid ? `UUID ${fs.uuid}` : ''].filter(Boolean).join(', ');
}

/** The report as plain lines for a terminal or a log. */
export function renderReport(r: ImageReport): string {
  const kind = `${r.format}${r.compression ? `, ${r.compression}-compressed` : ''}`;
  const lines = [`Image:      ${r.file} (${kind}, ${human(r.size)})`, `SHA256:     ${r.sha256}`];
  const table = r.table ? `${r.table === 'gpt' ? 'GPT' : 'MBR'} partition table${r.diskId ? ` (disk id ${r.diskId})` : ''}` : 'no partition table';
  if (r.iso) {
    const boot = r.iso.elTorito.map((e) => `${e.platform}${e.bootable ? '' : ' (not bootable)'}`).join(', ') || 'none';
    lines.push(`Volume:     ${r.iso.volumeId} (ISO 9660, ${human(r.iso.volumeBytes)})`, `Boot:       El Torito ${boot}`);
    if (r.iso.systemArea) lines.push(`System area: ${r.iso.systemArea}`);
    return `${lines.join('\n')}\n`;
  }
  if (r.initramfs) lines.push(`Archive:    ${human(r.virtualSize)} unpacked, ${r.initramfs.members} members (newc cpio initramfs)`);
  else lines.push(`Disk:       ${human(r.virtualSize)}, ${table}`);
  if (r.filesystem) lines.push(`Filesystem: ${describeFs(r.filesystem)}`);
  for (const p of r.partitions) {
    const what = [p.name ? `"${p.name}"` : '', p.typeName ?? `type ${p.type}`].filter(Boolean).join(' ');
    lines.push(`  ${p.number}. ${what}: ${human(p.size)} at sector ${p.start}; ${describeFs(p.filesystem)}${p.partUuid ? `; PARTUUID ${p.partUuid}` : ''}`);
  }
  if (r.os) {
    const where = r.os.partition ? ` on partition ${r.os.partition}` : '';
    lines.push(`OS:         ${r.os.prettyName} (ID ${r.os.id}${r.os.versionId ? `, VERSION_ID ${r.os.versionId}` : ''})${where}`);
  } else lines.push(`OS:         not found (no ${r.initramfs ? '/etc/os-release in the archive' : 'ext2/3/4 filesystem with /etc/os-release'})`);
  if (r.packages !== undefined) lines.push(`Packages:   ${r.packages} installed`);
  if (r.sbom) {
    const s = r.sbom;
    lines.push(`SBOM:       ${s.file} (${s.name}): ${s.packages} packages, ${s.licensed} with a declared licence, ${s.noAssertion} NOASSERTION`);
  }
  if (r.initramfs) {
    const init = r.initramfs.init;
    lines.push(
      `Boot:       ${init ? `the kernel runs /init${init === '/init' ? '' : ` -> ${escapeInline(init)}`}` : 'no /init: a kernel cannot boot this archive by itself'}`,
    );
  } else if (r.boot) {
    const entries = r.boot.entries ? `, entries ${r.boot.entries.join(', ')}` : '';
    lines.push(`Boot:       ${r.boot.efi ? 'EFI (EFI/BOOT)' : 'no EFI/BOOT loader'}${r.boot.loader ? `, ${r.boot.loader}` : ''}${entries}`);
  } else lines.push('Boot:       no EFI system partition');
  return `${lines.join('\n')}\n`;
}
