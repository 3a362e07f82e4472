// `inspect` without tools: compression magic, the parsers of sfdisk, blkid,
// debugfs and mdir output, os-release, the bootloader guess and the text report.
import { describe, expect, it } from 'vitest';
import { detectCompression, type ImageReport, renderReport } from '../../src/inspect/image.js';
import { bootFromEsp, osFromRelease, parseBlkidExport, parseDebugfsLs, parseMdirBare, parseOsRelease, parseSfdiskJson } from '../../src/diskimage/read.js';

describe('detectCompression', () => {
  it.each([
    ['gzip', [0x1f, 0x8b, 0x08, 0x00], 'gz'],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04], 'xz'],
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58], 'zstd'],
    ['bzip2 (recognised, not read)', [0x42, 0x5a, 0x68, 0x39], 'bzip2'],
    ['lz4 (recognised, not read)', [0x04, 0x22, 0x4d, 0x18], 'lz4'],
    ['a qcow2 header', [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3], undefined],
    ['zeros (a raw disk)', [0, 0, 0, 0, 0, 0, 0, 0], undefined],
    ['text', [...Buffer.from('hello\n')], undefined],
    ['an xz magic cut short', [0xfd, 0x37, 0x7a], undefined],
    ['an empty file', [], undefined],
  ])('reads %s as %s', (_what, bytes, expected) => {
    expect(detectCompression(Uint8Array.from(bytes))).toBe(expected);
  });
});

const GPT_JSON = `{
   "partitiontable": {
      "label": "gpt", "id": "BB2DE2AF-1498-FD43-809D-465F55AE6A72", "device": "/tmp/x/disk.raw",
      "unit": "sectors", "firstlba": 2048, "lastlba": 131038, "sectorsize": 512,
      "partitions": [
         {"node": "/tmp/x/disk.raw1", "start": 2048, "size": 32768, "type": "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "uuid": "2FFE113F-E7D9-4946-B18D-00A85637B5AD", "name": "esp"},
         {"node": "/tmp/x/disk.raw3", "start": 34816, "size": 94208, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "uuid": "5FF78D09-7AF1-194F-A3B4-971EC5DDFFF4"},
         {"node": "/tmp/x/disk.raw4", "start": 129024, "size": 2015, "type": "01234567-89AB-CDEF-0123-456789ABCDEF", "uuid": "11111111-2222-3333-4444-555555555555", "name": "odd"}
      ]
   }
}`;

const DOS_JSON = `{
   "partitiontable": {
      "label": "dos", "id": "0x1963b91", "device": "/tmp/img2", "unit": "sectors", "sectorsize": 512,
      "partitions": [
         {"node": "/tmp/img2p1", "start": 2048, "size": 4096, "type": "EF"},
         {"node": "/tmp/img2p2", "start": 8192, "size": 12288, "type": "83", "bootable": true}
      ]
   }
}`;

describe('parseSfdiskJson', () => {
  it('reads a GPT with numbers from the node names (gaps kept), byte offsets, type names and lower-case PARTUUIDs', () => {
    const t = parseSfdiskJson(GPT_JSON);
    expect(t).toEqual({
      table: 'gpt',
      diskId: 'bb2de2af-1498-fd43-809d-465f55ae6a72',
      sectorSize: 512,
      partitions: [
        {
          number: 1,
          start: 2048,
          sectors: 32768,
          offset: 1048576,
          size: 16777216,
          type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
          typeName: 'esp',
          name: 'esp',
          partUuid: '2ffe113f-e7d9-4946-b18d-00a85637b5ad',
        },
        {
          number: 3,
          start: 34816,
          sectors: 94208,
          offset: 17825792,
          size: 48234496,
          type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
          typeName: 'linux',
          partUuid: '5ff78d09-7af1-194f-a3b4-971ec5ddfff4',
        },
        {
          number: 4,
          start: 129024,
          sectors: 2015,
          offset: 66060288,
          size: 1031680,
          type: '01234567-89AB-CDEF-0123-456789ABCDEF',
          name: 'odd',
          partUuid: '11111111-2222-3333-4444-555555555555',
        },
      ],
    });
  });

  it('reads an MBR table: the kernel-style PARTUUID <signature>-<nn> and "p" node names of a file ending in a digit', () => {
    const t = parseSfdiskJson(DOS_JSON);
    expect(t?.table).toBe('dos');
    expect(t?.diskId).toBe('01963b91');
    expect(t?.partitions.map((p) => [p.number, p.type, p.typeName, p.partUuid, p.offset])).toEqual([
      [1, 'ef', 'esp', '01963b91-01', 1048576],
      [2, '83', 'linux', '01963b91-02', 4194304],
    ]);
  });

  it('uses the sector size sfdisk reports', () => {
    const t = parseSfdiskJson(GPT_JSON.replace('"sectorsize": 512', '"sectorsize": 4096'));
    expect(t?.partitions[0]?.offset).toBe(2048 * 4096);
  });

  it.each([
    ['no partition table', '{}'],
    ['a label inspect does not know', '{"partitiontable": {"label": "sun", "partitions": []}}'],
  ])('gives undefined for %s', (_what, json) => {
    expect(parseSfdiskJson(json)).toBeUndefined();
  });
});

describe('parseBlkidExport', () => {
  it('reads KEY=value lines and undoes blkid escapes', () => {
    const text = 'DEVNAME=disk.raw\nSEC_TYPE=msdos\nLABEL=EFI\\ System\nUUID=624A-5E49\nTYPE=vfat\nUSAGE=filesystem';
    expect(parseBlkidExport(text)).toEqual({
      DEVNAME: 'disk.raw',
      SEC_TYPE: 'msdos',
      LABEL: 'EFI System',
      UUID: '624A-5E49',
      TYPE: 'vfat',
      USAGE: 'filesystem',
    });
  });

  it('keeps "=" inside a value and skips lines without a key', () => {
    expect(parseBlkidExport('LABEL=a=b\n=x\n\nnoise')).toEqual({ LABEL: 'a=b' });
  });
});

describe('os-release', () => {
  it('parses double, single and no quotes, escapes and comments', () => {
    const text = [
      '# a comment',
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
      "NAME='Debian GNU/Linux'",
      'ID=debian',
      'VERSION_ID="12"',
      'HOME_URL="https://example.invalid/a\\"b\\\\c\\$d"',
      '',
      'not a field',
    ].join('\n');
    expect(parseOsRelease(text)).toEqual({
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
      NAME: 'Debian GNU/Linux',
      ID: 'debian',
      VERSION_ID: '12',
      HOME_URL: 'https://example.invalid/a"b\\c$d',
    });
  });

  it.each([
    [
      'a release',
      'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n',
      { prettyName: 'Debian GNU/Linux 13 (trixie)', id: 'debian', versionId: '13' },
    ],
    ['testing without VERSION_ID', 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nID=debian\n', { prettyName: 'Debian GNU/Linux forky/sid', id: 'debian' }],
    ['an empty file (the defaults of os-release(5))', '', { prettyName: 'Linux', id: 'linux' }],
  ])('gives the OS of %s', (_what, text, expected) => {
    expect(osFromRelease(text)).toEqual(expected);
  });
});

describe('parseDebugfsLs', () => {
  it('lists the regular files of `ls -p` output, sorted, without directories or links', () => {
    const text = [
      '/18/040755/0/0/.//',
      '/17/040755/0/0/..//',
      '/21/100644/0/0/b.spdx.json/13/',
      '/19/100644/0/0/a.spdx.json/1200/',
      '/20/120777/0/0/link/5/',
      '/22/040755/0/0/sub//',
      '',
    ].join('\n');
    expect(parseDebugfsLs(text)).toEqual(['a.spdx.json', 'b.spdx.json']);
  });
});

describe('parseMdirBare', () => {
  it('strips the drive prefix and keeps the trailing "/" of directories', () => {
    expect(parseMdirBare('::/EFI/\r\n::/EFI/BOOT/\n::/EFI/BOOT/BOOTX64.EFI\n\nnoise\n')).toEqual(['EFI/', 'EFI/BOOT/', 'EFI/BOOT/BOOTX64.EFI']);
  });
});

describe('bootFromEsp', () => {
  it.each([
    [
      'systemd-boot with entries',
      [
        'EFI/',
        'EFI/BOOT/',
        'EFI/BOOT/BOOTX64.EFI',
        'EFI/systemd/',
        'EFI/systemd/systemd-bootx64.efi',
        'loader/',
        'loader/entries/',
        'loader/entries/g3.conf',
        'loader/loader.conf',
      ],
      { efi: true, loader: 'systemd-boot', entries: ['g3.conf'] },
    ],
    ['a standalone grub: BOOTX64.EFI alone', ['EFI/', 'EFI/BOOT/', 'EFI/BOOT/BOOTX64.EFI', 'g3/', 'g3/vmlinuz'], { efi: true, loader: 'grub' }],
    ['lower-case names (FAT ignores case)', ['efi/', 'efi/boot/', 'efi/boot/bootaa64.efi'], { efi: true, loader: 'grub' }],
    ['a grub installed under its own directory, no fallback loader', ['EFI/', 'EFI/debian/', 'EFI/debian/grubx64.efi'], { efi: false, loader: 'grub' }],
    ['an empty ESP', [], { efi: false }],
  ])('recognises %s', (_what, files, expected) => {
    expect(bootFromEsp(files)).toEqual(expected);
  });
});

const REPORT: ImageReport = {
  file: 'out/minimal.qcow2.xz',
  size: 1_572_864,
  sha256: 'ab'.repeat(32),
  format: 'qcow2',
  compression: 'xz',
  virtualSize: 4 * 1024 ** 3,
  table: 'gpt',
  diskId: 'bb2de2af-1498-fd43-809d-465f55ae6a72',
  partitions: [
    {
      number: 1,
      start: 2048,
      sectors: 1048576,
      offset: 1048576,
      size: 512 * 1024 ** 2,
      type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
      typeName: 'esp',
      name: 'esp',
      partUuid: '2ffe113f-e7d9-4946-b18d-00a85637b5ad',
      filesystem: { type: 'vfat', uuid: '624A-5E49', label: 'ESP' },
    },
    { number: 2, start: 1050624, sectors: 100, offset: 537919488, size: 51200, type: '01234567-89AB-CDEF-0123-456789ABCDEF' },
  ],
  os: { prettyName: 'Debian GNU/Linux 12 (bookworm)', id: 'debian', versionId: '12', partition: 3 },
  packages: 212,
  sbom: { file: '/usr/share/sbom/minimal.spdx.json', name: 'minimal-1.0', packages: 212, licensed: 200, noAssertion: 12 },
  boot: { efi: true, loader: 'systemd-boot', entries: ['g3.conf'] },
};

describe('renderReport', () => {
  it('prints one line per fact, with human sizes and every partition', () => {
    expect(renderReport(REPORT).split('\n')).toEqual([
      'Image:      out/minimal.qcow2.xz (qcow2, xz-compressed, 1.5 MiB)',
      `SHA256:     ${'ab'.repeat(32)}`,
      'Disk:       4 GiB, GPT partition table (disk id bb2de2af-1498-fd43-809d-465f55ae6a72)',
      '  1. "esp" esp: 512 MiB at sector 2048; vfat, label ESP, UUID 624A-5E49; PARTUUID 2ffe113f-e7d9-4946-b18d-00a85637b5ad',
      '  2. type 01234567-89AB-CDEF-0123-456789ABCDEF: 50 KiB at sector 1050624; no filesystem found',
      'OS:         Debian GNU/Linux 12 (bookworm) (ID debian, VERSION_ID 12) on partition 3',
      'Packages:   212 installed',
      'SBOM:       /usr/share/sbom/minimal.spdx.json (minimal-1.0): 212 packages, 200 with a declared licence, 12 NOASSERTION',
      'Boot:       EFI (EFI/BOOT), systemd-boot, entries g3.conf',
      '',
    ]);
  });

  it('says what is missing: no table, no OS, no ESP', () => {
    const bare: ImageReport = {
      file: 'fs.raw',
      size: 8 * 1024 ** 2,
      sha256: '00'.repeat(32),
      format: 'raw',
      virtualSize: 8 * 1024 ** 2,
      table: undefined,
      partitions: [],
      filesystem: { type: 'ext4', uuid: 'u' },
    };
    expect(renderReport(bare)).toBe(
      [
        'Image:      fs.raw (raw, 8 MiB)',
        `SHA256:     ${'00'.repeat(32)}`,
        'Disk:       8 MiB, no partition table',
        'Filesystem: ext4, UUID u',
        'OS:         not found (no ext2/3/4 filesystem with /etc/os-release)',
        'Boot:       no EFI system partition',
        '',
      ].join('\n'),
    );
  });

  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [10 * 1024 ** 2, '10 MiB'],
    [1.25 * 1024 ** 4, '1.3 TiB'],
  ])('writes %i bytes as %s', (bytes, text) => {
    expect(renderReport({ ...REPORT, size: bytes })).toContain(`(qcow2, xz-compressed, ${text})`);
  });
});
