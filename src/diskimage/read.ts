// Reading a raw disk image without mounting it: the partition table (sfdisk),
// each partition's filesystem (blkid), files of an ext2/3/4 filesystem
// (debugfs) and the ESP's file list (mtools). Every tool gets a byte offset
// into the image file, so no loop device and no root privileges are needed.
import { partitionTypeName } from './partition-types.js';
import path from 'node:path';
import { StepError } from '../errors.js';
import { type RunOptions, run } from '../exec.js';

export interface FilesystemInfo {
  type: string;
  uuid?: string;
  label?: string;
}

export interface PartitionInfo {
  number: number;
  /** First sector and length in sectors, as the table records them. */
  start: number;
  sectors: number;
  /** The same in bytes. */
  offset: number;
  size: number;
  /** GPT: upper-case type GUID. MBR: the type byte in hex ("83", "ef"). */
  type: string;
  /** The template's name for the type (esp, linux-root-amd64...), when it is a known one. */
  typeName?: string;
  name?: string;
  partUuid?: string;
  filesystem?: FilesystemInfo;
}

export interface PartitionTable {
  table: 'gpt' | 'dos';
  /** GPT: disk GUID. MBR: the disk signature as 8 hex digits. */
  diskId?: string;
  sectorSize: number;
  partitions: PartitionInfo[];
}

// Template type names (see disk.partitions[].type) of the common partition types.
// Extended partitions are not a template type, so disk-plan's table does not name them.
const MBR_EXTENDED = new Set(['5', 'f', '85']);

/** The partition table in `sfdisk --json` output, with byte offsets; undefined for output without one. */
export function parseSfdiskJson(text: string): PartitionTable | undefined {
  const pt = (JSON.parse(text) as { partitiontable?: SfdiskTable }).partitiontable;
  if (!pt || (pt.label !== 'gpt' && pt.label !== 'dos')) return undefined;
  const sectorSize = pt.sectorsize ?? 512;
  const dosId = pt.label === 'dos' && pt.id ? pt.id.replace(/^0x/i, '').toLowerCase().padStart(8, '0') : undefined;
  const partitions = (pt.partitions ?? []).map((p, i): PartitionInfo => {
    // sfdisk names a partition <device><n> or <device>p<n>; the number is what the kernel uses.
    const suffix = pt.device && p.node.startsWith(pt.device) ? p.node.slice(pt.device.length).replace(/^p/, '') : '';
    const number = /^\d+$/.test(suffix) ? Number(suffix) : i + 1;
    const type = pt.label === 'gpt' ? p.type.toUpperCase() : p.type.toLowerCase();
    const typeName = pt.label === 'dos' && MBR_EXTENDED.has(type) ? 'extended' : partitionTypeName(pt.label as 'gpt' | 'dos', type);
    // An MBR partition's PARTUUID is the disk signature and its number, as the kernel forms it.
    const partUuid = pt.label === 'gpt' ? p.uuid?.toLowerCase() : dosId && `${dosId}-${number.toString(16).padStart(2, '0')}`;
    return {
      number,
      start: p.start,
      sectors: p.size,
      offset: p.start * sectorSize,
      size: p.size * sectorSize,
      type,
      ...(typeName ? { typeName } : {}),
      ...(p.name ? { name: p.name } : {}),
      ...(partUuid ? { partUuid } : {}),
    };
  });
  return { table: pt.label, diskId: pt.label === 'gpt' ? pt.id?.toLowerCase() : dosId, sectorSize, partitions };
}

interface SfdiskTable {
  label?: string;
  id?: string;
  device?: string;
  sectorsize?: number;
  partitions?: Array<{ node: string; start: number; size: number; type: string; uuid?: string; name?: string }>;
}

/** The image's partition table; undefined when it has none (a bare filesystem, or not a disk image). */
export async function readPartitionTable(raw: string, o: RunOptions = {}): Promise<PartitionTable | undefined> {
  const r = await run({ command: 'sfdisk', args: ['--json', raw] }, { ...o, reject: false, package: 'fdisk' });
  if (r.exitCode !== 0) {
    if (/does not contain a recognized partition table/.test(r.stderr)) return undefined;
    throw new StepError(`sfdisk could not read the partition table of ${raw}: ${r.stderr.trim()}`, {
      command: ['sfdisk', '--json', raw],
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  }
  return parseSfdiskJson(r.stdout);
}

/** KEY=value pairs of `blkid -o export`; values have spaces and specials escaped with a backslash. */
export function parseBlkidExport(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq)] = line.slice(eq + 1).replace(/\\(.)/g, '$1');
  }
  return out;
}

/** The filesystem blkid finds in `size` bytes at `offset`; undefined when it finds none. */
export async function probeFilesystem(raw: string, offset: number, size: number, o: RunOptions = {}): Promise<FilesystemInfo | undefined> {
  const args = ['--probe', '--offset', String(offset), '--size', String(size), '-o', 'export', raw];
  const r = await run({ command: 'blkid', args }, { ...o, reject: false, package: 'util-linux' });
  // blkid exits 2 when nothing it knows is there.
  if (r.exitCode === 2) return undefined;
  if (r.exitCode !== 0)
    throw new StepError(`blkid could not probe ${raw} at byte ${offset}: ${r.stderr.trim()}`, {
      command: ['blkid', ...args],
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  const f = parseBlkidExport(r.stdout);
  if (!f.TYPE) return undefined;
  return { type: f.TYPE, ...(f.UUID ? { uuid: f.UUID } : {}), ...(f.LABEL ? { label: f.LABEL } : {}) };
}

/** One ext2/3/4 filesystem inside an image file, read with debugfs (read-only, no mount). */
export class ExtReader {
  constructor(
    readonly raw: string,
    readonly offset: number,
    private readonly o: RunOptions = {},
  ) {}

  private async debugfs(request: string): Promise<{ stdout: string; missing: boolean }> {
    // `file?offset=` is e2fsprogs' own syntax for a filesystem inside a larger file.
    const args = ['-R', request, `${this.raw}?offset=${this.offset}`];
    // No pager, even if the environment names one.
    const r = await run({ command: 'debugfs', args }, { ...this.o, env: { ...this.o.env, DEBUGFS_PAGER: '__none__' }, reject: false, package: 'e2fsprogs' });
    // debugfs exits 0 when a request fails; the reason is on stderr after its version banner.
    const problems = r.stderr.split('\n').filter((l) => l.trim() && !/^debugfs \d/.test(l));
    const missing = problems.some((l) => /File not found by ext2_lookup/.test(l));
    if (r.exitCode !== 0 || (!missing && problems.length > 0 && r.stdout === '')) {
      throw new StepError(`debugfs could not run "${request}" on the filesystem at byte ${this.offset} of ${this.raw}: ${problems.join(' | ')}`, {
        command: ['debugfs', ...args],
        exitCode: r.exitCode,
        stderr: r.stderr,
      });
    }
    return { stdout: r.stdout, missing };
  }

  /** A file's text, following symbolic links (such as /etc/os-release); undefined when it does not exist. */
  async readFile(file: string, hops = 0): Promise<string | undefined> {
    if (hops > 8 || !safePath(file)) return undefined;
    const st = await this.debugfs(`stat "${file}"`);
    if (st.missing) return undefined;
    const type = /Type: (\S+)/.exec(st.stdout)?.[1];
    if (type === 'symlink') {
      // Short targets live in the inode ("Fast link dest"); longer ones are the link's data, which cat prints.
      const fast = /Fast link dest: "(.*)"/.exec(st.stdout)?.[1];
      const target = fast ?? (await this.debugfs(`cat "${file}"`)).stdout;
      return this.readFile(path.posix.resolve(path.posix.dirname(file), target), hops + 1);
    }
    if (type !== 'regular') return undefined;
    const r = await this.debugfs(`cat "${file}"`);
    return r.missing ? undefined : r.stdout;
  }

  /** The inode number of each regular file in a directory (by name); empty when it does not exist or cannot be named to debugfs. */
  async fileInodes(dir: string): Promise<Map<string, number>> {
    if (!safePath(dir)) return new Map();
    const r = await this.debugfs(`ls -p "${dir}"`);
    return r.missing ? new Map() : parseDebugfsInodes(r.stdout);
  }

  /** Names of the regular files in a directory; empty when it does not exist. */
  async listFiles(dir: string): Promise<string[]> {
    if (!safePath(dir)) return [];
    const r = await this.debugfs(`ls -p "${dir}"`);
    return r.missing ? [] : parseDebugfsLs(r.stdout);
  }
}

// debugfs splits its request into words itself; a path with a quote or line break cannot be passed.
const safePath = (p: string) => p.startsWith('/') && !/["\n\\]/.test(p);

/** Regular files of `debugfs ls -p` output: lines of /inode/mode/uid/gid/name/size/. */
export function parseDebugfsLs(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\/\d+\/(\d+)\/\d+\/\d+\/(.*)\/\d*\/$/.exec(line.trim());
    // Mode 100xxx is a regular file.
    if (m?.[1]?.startsWith('100') && m[2]) names.push(m[2]);
  }
  return names.sort();
}

/** Regular files of `debugfs ls -p` output with their inode numbers. */
export function parseDebugfsInodes(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\/(\d+)\/(\d+)\/\d+\/\d+\/(.*)\/\d*\/$/.exec(line.trim());
    if (m?.[2]?.startsWith('100') && m[3]) out.set(m[3], Number(m[1]));
  }
  return out;
}

/** Every file and directory (directories end in "/") of the FAT filesystem at `offset`, relative to its root. */
export async function listFat(raw: string, offset: number, o: RunOptions = {}): Promise<string[]> {
  const args = ['-/', '-b', '-i', `${raw}@@${offset}`, '::'];
  // MTOOLS_SKIP_CHECK: an image made by mkfs.fat need not have a floppy-like geometry.
  const r = await run({ command: 'mdir', args }, { ...o, env: { ...o.env, MTOOLS_SKIP_CHECK: '1' }, reject: false, package: 'mtools' });
  if (r.exitCode !== 0) {
    // mdir reports an empty root directory as "::" not being found.
    if (/File "::\/?" not found/.test(r.stderr)) return [];
    throw new StepError(`mdir could not list the FAT filesystem at byte ${offset} of ${raw}: ${r.stderr.trim()}`, {
      command: ['mdir', ...args],
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  }
  return parseMdirBare(r.stdout);
}

/** Paths of `mdir -/ -b` output ("::/EFI/BOOT/BOOTX64.EFI") without the drive prefix. */
export function parseMdirBare(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.startsWith('::/'))
    .map((l) => l.slice(3));
}

/** KEY=value pairs of an os-release file (os-release(5)): shell-like quoting, # comments. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*?)\s*$/.exec(line);
    if (!m?.[1]) continue;
    let value = m[2] ?? '';
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
      value = value.slice(1, -1);
      // Inside double quotes a backslash escapes ", \, $ and `.
      if (q === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out[m[1]] = value;
  }
  return out;
}

/** The OS an os-release file names, with the defaults os-release(5) gives for missing fields. */
export function osFromRelease(text: string): { prettyName: string; id: string; versionId?: string } {
  const f = parseOsRelease(text);
  return { prettyName: f.PRETTY_NAME || 'Linux', id: f.ID || 'linux', ...(f.VERSION_ID ? { versionId: f.VERSION_ID } : {}) };
}

/** The bootloader an ESP's file list shows; FAT names compare without case. */
export function bootFromEsp(files: string[]): { efi: boolean; loader?: string; entries?: string[] } {
  const lower = files.map((f) => f.toLowerCase());
  // The removable-media path firmware boots without NVRAM entries: EFI/BOOT/BOOTX64.EFI, BOOTAA64.EFI...
  const efi = lower.some((f) => /^efi\/boot\/boot[^/]*\.efi$/.test(f));
  const entries = files.filter((f) => /^loader\/entries\/[^/]+\.conf$/i.test(f)).map((f) => f.slice('loader/entries/'.length));
  let loader: string | undefined;
  if (lower.includes('loader/entries/') || lower.some((f) => f.startsWith('efi/systemd/'))) loader = 'systemd-boot';
  // A standalone grub (grub-mkstandalone, as the build writes it) is BOOTX64.EFI alone.
  else if (efi || lower.some((f) => /^efi\/[^/]+\/grub[^/]*\.efi$/.test(f))) loader = 'grub';
  return { efi, ...(loader ? { loader } : {}), ...(entries.length > 0 ? { entries } : {}) };
}
