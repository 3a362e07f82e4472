// imageType img: the output names, kernel choice and validation rules, and
// the newc cpio reader inspect uses on archives written here byte by byte.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initrdNames, newestKernel } from '../../src/compose/kinds/initrd.js';
import { outputKind } from '../../src/compose/kinds/select.js';
import { UserError } from '../../src/errors.js';
import { CpioReader, isNewcCpio, listCpio } from '../../src/inspect/cpio.js';
import { parseTemplate } from '../../src/template/load.js';
import { IMAGE_TYPES } from '../../src/template/provider.js';
import { validateTemplate } from '../../src/template/validate.js';
import { useTempDirs } from './tmpdir.js';

const tmp = useTempDirs();

interface Entry {
  name: string;
  mode: number;
  data?: string;
}

/** A newc archive of `entries` (and the trailer unless `trailer` is false), as cpio -H newc writes one. */
function newc(entries: Entry[], trailer = true): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    length += b.length;
  };
  const pad = () => {
    if (length % 4) push(Buffer.alloc(4 - (length % 4)));
  };
  const all = trailer ? [...entries, { name: 'TRAILER!!!', mode: 0 }] : entries;
  all.forEach((e, i) => {
    const data = Buffer.from(e.data ?? '');
    const name = Buffer.from(`${e.name}\0`);
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
    const fields = [i + 1, e.mode, 0, 0, 1, 1_700_000_000 + i, data.length, 0, 0, 0, 0, name.length, 0];
    push(Buffer.from(`070701${fields.map(hex).join('')}`, 'latin1'));
    push(name);
    pad();
    push(data);
    pad();
  });
  return Buffer.concat(parts);
}

const DIR = 0o040755;
const FILE = 0o100644;
const LINK = 0o120777;

async function archive(bytes: Buffer): Promise<string> {
  const file = path.join(await tmp(), 'initrd.cpio');
  await writeFile(file, bytes);
  return file;
}

describe('the newc cpio reader', () => {
  const entries: Entry[] = [
    { name: '.', mode: DIR },
    { name: 'etc', mode: DIR },
    { name: 'etc/os-release', mode: LINK, data: '../usr/lib/os-release' },
    { name: 'init', mode: LINK, data: 'sbin/init' },
    { name: 'usr/lib/os-release', mode: FILE, data: 'ID=debian\nVERSION_ID="13"\n' },
    { name: 'usr/share/sbom/a.spdx.json', mode: FILE, data: '{}' },
    { name: 'usr/share/sbom/sub', mode: DIR },
    { name: 'dev/console', mode: 0o020600 },
  ];

  it('lists every member up to the trailer, with absolute names', async () => {
    const file = await archive(newc(entries));
    const members = await listCpio(file, 'initrd');
    expect(members[2]).toMatchObject({ nlink: 1, mtime: 1_700_000_002, size: '../usr/lib/os-release'.length });
    expect(members.map((m) => m.name)).toEqual([
      '/',
      '/etc',
      '/etc/os-release',
      '/init',
      '/usr/lib/os-release',
      '/usr/share/sbom/a.spdx.json',
      '/usr/share/sbom/sub',
      '/dev/console',
    ]);
  });

  it('reads files through symbolic links inside the archive, and nothing that is not a regular file', async () => {
    const file = await archive(newc(entries));
    const r = new CpioReader(file, await listCpio(file, 'initrd'));
    expect(await r.readFile('/etc/os-release')).toBe('ID=debian\nVERSION_ID="13"\n');
    expect(await r.linkTarget('/init')).toBe('sbin/init');
    expect(await r.linkTarget('/usr/lib/os-release')).toBeUndefined();
    expect(await r.readFile('/dev/console')).toBeUndefined();
    expect(await r.readFile('/etc')).toBeUndefined();
    expect(await r.readFile('/missing')).toBeUndefined();
    expect(await r.listFiles('/usr/share/sbom')).toEqual(['a.spdx.json']);
  });

  it('stops at a loop of links', async () => {
    const file = await archive(
      newc([
        { name: 'a', mode: LINK, data: 'b' },
        { name: 'b', mode: LINK, data: 'a' },
      ]),
    );
    expect(await new CpioReader(file, await listCpio(file, 'x')).readFile('/a')).toBeUndefined();
  });

  it('refuses an archive without its trailer, cut short, or with a broken header, naming the byte', async () => {
    const whole = newc(entries);
    for (const [bytes, why] of [
      [newc(entries, false), 'ends without its trailer'],
      [whole.subarray(0, 300), 'ends'],
      [Buffer.concat([newc(entries.slice(0, 2), false), Buffer.from('070702'.padEnd(110, '0'))]), 'no newc header'],
      [Buffer.from(`070701${'Z'.repeat(104)}`), 'not hexadecimal'],
    ] as const) {
      const file = await archive(bytes);
      const err = await listCpio(file, 'the.img').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/^the\.img is not a complete newc cpio archive: .* at byte \d+$/);
      expect((err as Error).message).toContain(why);
    }
  });

  it('refuses a member whose data runs past the end of the file', async () => {
    const bytes = newc([{ name: 'big', mode: FILE, data: 'x'.repeat(100) }]);
    const file = await archive(bytes.subarray(0, 150));
    await expect(listCpio(file, 'x')).rejects.toThrow(/runs past the end/);
  });

  it('knows a newc header by its magic', () => {
    expect(isNewcCpio(newc([]))).toBe(true);
    expect(isNewcCpio(Buffer.from('070707'))).toBe(false);
    expect(isNewcCpio(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe(false);
  });
});

describe('imageType img', () => {
  it('takes the newest kernel by Debian version order', () => {
    expect(newestKernel(['config-6.1.0', 'vmlinuz-6.1.0-9-amd64', 'vmlinuz-6.1.0-10-amd64', 'initrd.img-6.1.0-10-amd64'])).toBe('6.1.0-10-amd64');
    expect(newestKernel(['initrd.img-6.1.0'])).toBeUndefined();
  });

  it('names its outputs <name>-<version>.img and .vmlinuz, refusing names that leave the build directory', () => {
    expect(initrdNames({ image: { name: 'g3', version: '1.0' } })).toEqual({ image: 'g3-1.0.img', kernel: 'g3-1.0.vmlinuz' });
    expect(() => initrdNames({ image: { name: '../x', version: '1' } })).toThrow(UserError);
  });

  const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/security' };
  const template = (extra: string) =>
    parseTemplate(
      [
        'target: {os: debian, dist: debian13, arch: x86_64, imageType: img}',
        'packageRepositories:',
        '  - {codename: trixie, url: "${mirror}", component: main}',
        'systemConfig: {hostname: box, packages: [systemd-sysv]}',
        extra,
        '',
      ].join('\n'),
      'img.yml',
      VARS,
    ).template;

  it('needs no disk section, and refuses one rather than ignoring it', () => {
    expect(validateTemplate(template(''), 'img.yml').errors).toEqual([]);
    const { errors } = validateTemplate(template('disk: {size: 4GiB, partitionTableType: gpt, partitions: []}'), 'img.yml');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^img\.yml:5: disk is not used by imageType img/);
  });

  it('an image type with no output is exit 2 naming the supported ones', () => {
    const err = (() => {
      try {
        outputKind({ target: { imageType: 'floppy' } }, 'seed');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`target.imageType "floppy" is not supported (supported: ${IMAGE_TYPES.join(', ')})`);
  });
});
