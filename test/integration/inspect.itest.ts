// `inspect` on real images made on this machine with sfdisk, mkfs.fat, mtools
// and mke2fs: a GPT disk with an ESP (systemd-boot layout) and an ext4 root
// holding os-release, a dpkg database and an SPDX SBOM, read back raw, after
// qemu-img conversion and after compression, and never changed by reading.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { run } from '../../src/exec.js';
import { type ImageReport, inspectImage, renderReport } from '../../src/inspect/image.js';
import type { CacheEvent } from '../../src/log/events.js';
import { useTempDirs } from '../unit/tmpdir.js';

const tempDir = useTempDirs('g3-inspect-itest-');
const MiB = 1024 * 1024;
const MTOOLS = { MTOOLS_SKIP_CHECK: '1' };
const ESP = { start: 2048, sectors: 32768, uuid: '2ffe113f-e7d9-4946-b18d-00a85637b5ad', volumeId: '1234ABCD' };
const ROOT = { start: 34816, sectors: 94208, uuid: '5ff78d09-7af1-194f-a3b4-971ec5ddfff4', fsUuid: '8ee984a3-cc3a-44e5-a58f-f55d681262bb' };
const DISK_ID = '6a3c0f1e-0b5d-4c2a-9e57-3d2b1a0c9f8e';

// Three image packages: two declare a licence, one does not.
const SBOM = {
  spdxVersion: 'SPDX-2.3',
  dataLicense: 'CC0-1.0',
  SPDXID: 'SPDXRef-DOCUMENT',
  name: 'tiny-1.0',
  documentNamespace: 'https://g3-composer.invalid/spdx/tiny-1.0-test',
  creationInfo: { created: '2024-01-01T00:00:00Z', creators: ['Tool: g3-composer-test'] },
  packages: [
    {
      SPDXID: 'SPDXRef-Image-tiny',
      name: 'tiny',
      versionInfo: '1.0',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
    },
    ...[
      ['base-files', 'GPL-2.0-or-later'],
      ['libc6', 'LGPL-2.1-or-later'],
      ['tzdata', 'NOASSERTION'],
    ].map(([name, license]) => ({
      SPDXID: `SPDXRef-Package-${name}-amd64`,
      name: name as string,
      versionInfo: '1',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: license as string,
      copyrightText: 'NOASSERTION',
    })),
  ],
  relationships: [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image-tiny' }],
};

const STATUS = ['base-files', 'libc6', 'tzdata']
  .map((p) => `Package: ${p}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n`)
  .concat('Package: old-tool\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 0.9\n')
  .join('\n');

let work: string;
let raw: string;

async function tool(command: string, args: string[], env?: Record<string, string>): Promise<void> {
  await run({ command, args }, { env });
}

/** The root tree: /etc/os-release a link into /usr/lib as on Debian, the dpkg database, the SBOM. */
async function rootTree(dir: string): Promise<void> {
  for (const d of ['etc', 'usr/lib', 'var/lib/dpkg', 'usr/share/sbom']) await mkdir(path.join(dir, d), { recursive: true });
  await writeFile(path.join(dir, 'usr/lib/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n');
  await symlink('../usr/lib/os-release', path.join(dir, 'etc/os-release'));
  await writeFile(path.join(dir, 'var/lib/dpkg/status'), STATUS);
  await writeFile(path.join(dir, 'usr/share/sbom/tiny.spdx.json'), `${JSON.stringify(SBOM, null, 2)}\n`);
}

/** A sparse 64 MiB GPT disk: a FAT ESP with systemd-boot's layout, an ext4 root from `rootDir`. */
async function buildImage(file: string, rootDir: string): Promise<void> {
  await writeFile(file, '');
  await truncate(file, 64 * MiB);
  const script = [
    'label: gpt',
    `label-id: ${DISK_ID}`,
    `start=${ESP.start}, size=${ESP.sectors}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=${ESP.uuid}, name="esp"`,
    `start=${ROOT.start}, size=${ROOT.sectors}, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=${ROOT.uuid}, name="root"`,
    '',
  ].join('\n');
  await run({ command: 'sfdisk', args: ['--quiet', file] }, { input: script });
  // mkfs.fat counts the size in KiB blocks and the offset in sectors.
  await tool('mkfs.fat', ['-F', '16', '-i', ESP.volumeId, '-n', 'ESP', '--offset', String(ESP.start), file, String(ESP.sectors / 2)]);
  const esp = `${file}@@${ESP.start * 512}`;
  await tool('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT', '::/loader', '::/loader/entries'], MTOOLS);
  const loader = path.join(work, 'BOOTX64.EFI');
  const entry = path.join(work, 'x.conf');
  await writeFile(loader, 'not really a loader\n');
  await writeFile(entry, 'title tiny\nlinux /g3/vmlinuz\n');
  await tool('mcopy', ['-i', esp, loader, '::/EFI/BOOT/BOOTX64.EFI'], MTOOLS);
  await tool('mcopy', ['-i', esp, entry, '::/loader/entries/x.conf'], MTOOLS);
  await tool('mke2fs', [
    '-q',
    '-F',
    '-t',
    'ext4',
    '-U',
    ROOT.fsUuid,
    '-L',
    'root',
    '-d',
    rootDir,
    '-E',
    `offset=${ROOT.start * 512}`,
    file,
    `${ROOT.sectors / 2}k`,
  ]);
}

/** What inspect should report for the image, in any container. */
function expected(file: string, bytes: Buffer, format: string, compression?: ImageReport['compression']): ImageReport {
  return {
    file,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    format,
    ...(compression ? { compression } : {}),
    virtualSize: 64 * MiB,
    table: 'gpt',
    diskId: DISK_ID,
    partitions: [
      {
        number: 1,
        start: ESP.start,
        sectors: ESP.sectors,
        offset: ESP.start * 512,
        size: ESP.sectors * 512,
        type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
        typeName: 'esp',
        name: 'esp',
        partUuid: ESP.uuid,
        filesystem: { type: 'vfat', uuid: '1234-ABCD', label: 'ESP' },
      },
      {
        number: 2,
        start: ROOT.start,
        sectors: ROOT.sectors,
        offset: ROOT.start * 512,
        size: ROOT.sectors * 512,
        type: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
        typeName: 'linux-root-amd64',
        name: 'root',
        partUuid: ROOT.uuid,
        filesystem: { type: 'ext4', uuid: ROOT.fsUuid, label: 'root' },
      },
    ],
    os: { prettyName: 'Debian GNU/Linux 12 (bookworm)', id: 'debian', versionId: '12', partition: 2 },
    packages: 3,
    sbom: { file: '/usr/share/sbom/tiny.spdx.json', name: 'tiny-1.0', packages: 3, licensed: 2, noAssertion: 1 },
    boot: { efi: true, loader: 'systemd-boot', entries: ['x.conf'] },
  };
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'g3-inspect-image-'));
  const rootDir = path.join(work, 'root');
  await rootTree(rootDir);
  raw = path.join(work, 'tiny.raw');
  await buildImage(raw, rootDir);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Variant {
  /** `qemu-img convert -f raw` output options, e.g. ['-O', 'qcow2']; a sparse copy when absent. */
  convert?: string[];
  compress?: 'gzip' | 'xz' | 'zstd';
}
const SUFFIXES = { gzip: 'gz', xz: 'xz', zstd: 'zst' } as const;

/** The raw image as `dir/name`: converted, then compressed in place by the real tools. */
async function makeVariant(dir: string, name: string, v: Variant): Promise<string> {
  const out = path.join(dir, name);
  const stem = v.compress ? out.slice(0, out.lastIndexOf('.')) : out;
  if (v.convert) await tool('qemu-img', ['convert', '-f', 'raw', ...v.convert, raw, stem]);
  else await tool('cp', ['--sparse=always', raw, stem]);
  if (!v.compress) return out;
  // Each replaces its input with <input>.<suffix>.
  await tool(v.compress, { gzip: ['-n', '-q'], xz: ['-q', '-T0'], zstd: ['-q', '--rm'] }[v.compress].concat('--', stem));
  const produced = `${stem}.${SUFFIXES[v.compress]}`;
  if (produced !== out) await rename(produced, out);
  return out;
}

const qcow2 = ['-O', 'qcow2'];
const fixedVhd = ['-O', 'vpc', '-o', 'subformat=fixed,force_size=on'];

describe('inspectImage', () => {
  it('the SBOM in the test image is valid SPDX 2.3', async () => {
    const schema = JSON.parse(await readFile(new URL('../support/spdx-2.3-schema.json', import.meta.url), 'utf8'));
    const validate = new Ajv({ allErrors: true }).compile(schema);
    expect(validate(SBOM), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each<[string, string, Variant, string, ImageReport['compression']]>([
    ['raw', 'tiny.raw', {}, 'raw', undefined],
    ['qcow2', 'tiny.qcow2', { convert: qcow2 }, 'qcow2', undefined],
    ['raw.zst', 'tiny.raw.zst', { compress: 'zstd' }, 'raw', 'zstd'],
    ['qcow2.xz', 'tiny.qcow2.xz', { convert: qcow2, compress: 'xz' }, 'qcow2', 'xz'],
    ['raw.gz', 'tiny.raw.gz', { compress: 'gzip' }, 'raw', 'gz'],
    ['fixed vhd (qemu-img does not probe it)', 'tiny.vhd', { convert: fixedVhd }, 'vhd', undefined],
    ['fixed vhd without its suffix (found by its footer)', 'tiny.disk', { convert: fixedVhd }, 'vhd', undefined],
    ['streamOptimized vmdk', 'tiny.vmdk', { convert: ['-O', 'vmdk', '-o', 'subformat=streamOptimized'] }, 'vmdk', undefined],
    ['vhdx', 'tiny.vhdx', { convert: ['-O', 'vhdx', '-o', 'subformat=dynamic'] }, 'vhdx', undefined],
    ['zstd under a name without a suffix', 'tiny.img', { compress: 'zstd' }, 'raw', 'zstd'],
  ])('reports every field of a %s image and leaves the file unchanged', async (_what, name, v, format, compression) => {
    const dir = await tempDir();
    const file = await makeVariant(dir, name, v);
    const before = await readFile(file);
    const mtime = (await stat(file)).mtimeMs;

    const report = await inspectImage(file);

    expect(report).toEqual(expected(file, before, format, compression));
    expect((await readFile(file)).equals(before)).toBe(true);
    expect((await stat(file)).mtimeMs).toBe(mtime);
    expect(await readdir(dir)).toEqual([name]);
  });

  it('renders the report of the raw image as text', async () => {
    const text = renderReport(await inspectImage(raw));
    expect(text).toContain('Disk:       64 MiB, GPT partition table');
    expect(text).toContain('  2. "root" linux-root-amd64: 46 MiB at sector 34816; ext4, label root');
    expect(text).toContain('OS:         Debian GNU/Linux 12 (bookworm) (ID debian, VERSION_ID 12) on partition 2');
    expect(text).toContain('SBOM:       /usr/share/sbom/tiny.spdx.json (tiny-1.0): 3 packages, 2 with a declared licence, 1 NOASSERTION');
  });

  it('removes its temporary raw copy, also when the image is bad', async () => {
    const tmp = await tempDir();
    const dir = await tempDir();
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      expect((await inspectImage(await makeVariant(dir, 'tiny.qcow2.xz', { convert: qcow2, compress: 'xz' }))).format).toBe('qcow2');
      const text = path.join(dir, 'notes.txt');
      await writeFile(text, 'just some notes\n'.repeat(100));
      await tool('gzip', ['-n', '-q', '--', text]);
      await expect(inspectImage(`${text}.gz`)).rejects.toBeInstanceOf(UserError);
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
    expect(await readdir(tmp)).toEqual([]);
  });

  it('reads a file by its bytes: an uncompressed image named .gz gets a warning, not a gzip error', async () => {
    const dir = await tempDir();
    const file = await makeVariant(dir, 'tiny.raw.gz', {});
    const events: CacheEvent[] = [];
    const r = await inspectImage(file, { emit: (e) => events.push(e) });
    expect(r.compression).toBeUndefined();
    expect(r.format).toBe('raw');
    expect(events).toContainEqual({ type: 'warning', message: `${file} is named like a compressed file but is not compressed; reading it as it is` });
    // Verbose mode shows every command line.
    expect(events.some((e) => e.type === 'debug' && e.message.startsWith('$ qemu-img info -U --output=json'))).toBe(true);
  });

  it('rejects a truncated .zst as a UserError naming the file', async () => {
    const dir = await tempDir();
    const whole = await readFile(await makeVariant(dir, 'whole.raw.zst', { compress: 'zstd' }));
    const file = path.join(dir, 'cut.raw.zst');
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const err = await inspectImage(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain(`${file} is zstd-compressed but cannot be decompressed (truncated or corrupt)`);
  });

  it.each([
    ['a text file', 'notes.txt', 'just some notes\n'.repeat(100), 'is not a disk image: it has neither a partition table nor a filesystem'],
    ['a tiny text file', 'short.txt', 'hello\n', 'is not a disk image: its disk is 6 bytes, less than one sector'],
    ['bzip2 data', 'tiny.raw.bz2', 'BZh91AY&SY', 'is compressed with bzip2, which inspect does not read'],
  ])('rejects %s as a UserError', async (_what, name, content, message) => {
    const file = path.join(await tempDir(), name);
    await writeFile(file, content);
    const err = await inspectImage(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`${file} ${message}`);
  });

  it('rejects a missing file and a directory as UserErrors', async () => {
    const dir = await tempDir();
    const absent = path.join(dir, 'absent.raw');
    await expect(inspectImage(absent)).rejects.toSatisfy((e) => e instanceof UserError && e.message === `${absent} does not exist`);
    await expect(inspectImage(dir)).rejects.toSatisfy((e) => e instanceof UserError && e.message === `${dir} is not a regular file`);
  });

  it('reads an MBR disk without an ESP: the PARTUUID from the disk signature, no boot section', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'mbr.raw');
    await writeFile(file, '');
    await truncate(file, 32 * MiB);
    await run({ command: 'sfdisk', args: ['--quiet', file] }, { input: 'label: dos\nlabel-id: 0x0a1b2c3d\nstart=2048, type=83, bootable\n' });
    await tool('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', path.join(work, 'root'), '-E', `offset=${2048 * 512}`, file, `${(32 * MiB - 2048 * 512) / 1024}k`]);
    const r = await inspectImage(file);
    expect(r.table).toBe('dos');
    expect(r.diskId).toBe('0a1b2c3d');
    expect(r.partitions.map((p) => [p.number, p.type, p.typeName, p.partUuid, p.filesystem?.type])).toEqual([[1, '83', 'linux', '0a1b2c3d-01', 'ext4']]);
    expect(r.os).toEqual({ prettyName: 'Debian GNU/Linux 12 (bookworm)', id: 'debian', versionId: '12', partition: 1 });
    expect(r.packages).toBe(3);
    expect(r.boot).toBeUndefined();
  });
});

describe('inspect refuses images that refer to other files', () => {
  /** Why inspect refused `file` (it must refuse with a UserError). */
  async function refusal(file: string): Promise<string> {
    const err = await inspectImage(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }

  /** A named pipe: opening it for reading blocks until a writer comes, so a reader that opens it never finishes. */
  async function fifo(file: string): Promise<void> {
    await tool('mkfifo', [file]);
  }

  it.each<[string, (dir: string) => Promise<[string, string]>]>([
    [
      'a monolithicFlat vmdk (its extent is another file)',
      async (dir) => {
        const file = path.join(dir, 'flat.vmdk');
        await tool('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', file, '1M']);
        return [file, 'extent flat-flat.vmdk'];
      },
    ],
    [
      'a qcow2 with an external data file',
      async (dir) => {
        const file = path.join(dir, 'data.qcow2');
        await tool('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(dir, 'data.img')}`, file, '1M']);
        return [file, `external data file ${path.join(dir, 'data.img')}`];
      },
    ],
    [
      'a qcow2 overlay on a backing file',
      async (dir) => {
        const base = path.join(dir, 'base.qcow2');
        await tool('qemu-img', ['create', '-q', '-f', 'qcow2', base, '1M']);
        const file = path.join(dir, 'overlay.qcow2');
        await tool('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', file]);
        return [file, `backing file ${base}`];
      },
    ],
    [
      'a vmdk overlay naming its parent',
      async (dir) => {
        const base = path.join(dir, 'base.vmdk');
        await tool('qemu-img', ['create', '-q', '-f', 'vmdk', base, '1M']);
        const file = path.join(dir, 'child.vmdk');
        await tool('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', base, '-F', 'vmdk', file]);
        return [file, `parent ${base}`];
      },
    ],
    [
      'a hand-written descriptor naming /etc/shadow',
      async (dir) => {
        const file = path.join(dir, 'shadow.vmdk');
        await writeFile(file, '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 8 FLAT "/etc/shadow" 0\n');
        return [file, 'extent /etc/shadow'];
      },
    ],
    [
      'an xz-compressed qcow2 with an external data file',
      async (dir) => {
        const file = path.join(dir, 'data.qcow2');
        await tool('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(dir, 'd.img')}`, file, '1M']);
        await tool('xz', ['-q', '--', file]);
        return [`${file}.xz`, 'external data file'];
      },
    ],
  ])('refuses (a UserError, exit 2) naming what %s refers to', async (_what, make) => {
    const dir = await tempDir();
    const [file, ref] = await make(dir);
    expect(await refusal(file)).toContain(`${file} refers to other files (${ref}`);
  });

  it.each<[string, (dir: string, target: string) => Promise<string>]>([
    [
      'a vmdk descriptor extent',
      async (dir, target) => {
        const file = path.join(dir, 'pipe.vmdk');
        await writeFile(file, `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 8 FLAT "${target}" 0\n`);
        return file;
      },
    ],
    [
      'a qcow2 external data file',
      async (dir, target) => {
        const file = path.join(dir, 'pipe.qcow2');
        const data = path.join(dir, 'made.img');
        await tool('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${data}`, file, '1M']);
        // Same length as the FIFO's path, so the header extension can be rewritten in place.
        const image = await readFile(file);
        const at = image.indexOf(Buffer.from(data));
        expect(at).toBeGreaterThan(0);
        expect(target.length).toBe(data.length);
        image.write(target, at, 'utf8');
        await writeFile(file, image);
        return file;
      },
    ],
  ])('never opens the file %s names (a FIFO there would block it)', { timeout: 60_000 }, async (_what, make) => {
    const dir = await tempDir();
    const target = path.join(dir, 'made.fif');
    await fifo(target);
    const file = await make(dir, target);
    expect(await refusal(file)).toMatch(new RegExp(`refers to other files \\((extent|external data file) ${target}\\)`));
  });

  it('still reads a streamOptimized vmdk renamed after it was made (its descriptor names the old file)', async () => {
    const dir = await tempDir();
    const made = await makeVariant(dir, 'made.vmdk', { convert: ['-O', 'vmdk', '-o', 'subformat=streamOptimized'] });
    const file = path.join(dir, 'renamed.vmdk');
    await rename(made, file);
    expect((await inspectImage(file)).format).toBe('vmdk');
  });
});

describe('inspect puts its temporary raw copy under temp_dir', () => {
  it('converts into G3_TEMP_DIR and leaves it empty', async () => {
    const { runBuilder } = await import('../support/project.js');
    const dir = await tempDir();
    const scratch = await tempDir();
    const file = await makeVariant(dir, 'tiny.qcow2', { convert: qcow2 });
    const r = await runBuilder(['inspect', file, '--verbose'], { G3_TEMP_DIR: scratch, TMPDIR: dir });
    expect(r.stderr).toContain(`-O raw ${file} ${scratch}/g3-inspect-`);
    expect(r.code).toBe(0);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('exits 2 naming temp_dir when G3_TEMP_DIR does not exist', async () => {
    const { runBuilder } = await import('../support/project.js');
    const dir = await tempDir();
    const file = await makeVariant(dir, 'tiny.qcow2', { convert: qcow2 });
    const missing = path.join(dir, 'no-such-dir');
    const r = await runBuilder(['inspect', file], { G3_TEMP_DIR: missing });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: cannot make a temporary folder in ${missing} (temp_dir)`);
    expect(r.stderr).toContain('G3_TEMP_DIR');
  });
});
