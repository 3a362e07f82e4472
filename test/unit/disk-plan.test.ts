import { fat32SectorsPerCluster, reproducibleTarArgs } from '../../src/compose/disk/disk.js';
import { partitionTypeName } from '../../src/compose/disk/plan.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { planDisk, sfdiskScript } from '../../src/compose/disk/plan.js';
import { fstab } from '../../src/compose/configure/fstab.js';
import { UserError } from '../../src/errors.js';
import { loadTemplate } from '../../src/template/load.js';
import type { DiskTemplate, PartitionTemplate } from '../../src/template/types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/debian-security' };
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const GIB4_SECTORS = (4 * 1024 ** 3) / 512;

async function defaultDisk(): Promise<DiskTemplate> {
  const { template } = await loadTemplate(path.join(ROOT, 'defaults', 'templates', 'debian-debian13-x86_64-raw.yml'), VARS);
  return template.disk as DiskTemplate;
}

/** A one-partition disk whose partition has the given fields. */
function disk(part: PartitionTemplate, extra: Partial<DiskTemplate> = {}): DiskTemplate {
  return {
    size: '64MiB',
    partitionTableType: 'gpt',
    partitions: [{ id: 'root', start: '1MiB', end: '0', fsType: 'ext4', mountPoint: '/', ...part }],
    ...extra,
  };
}

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('expected a UserError');
}

describe('planDisk on the default template', () => {
  it('puts the ESP at 1MiB for 512MiB and root from 513MiB to the last usable GPT sector', async () => {
    const plan = planDisk(await defaultDisk(), 'seed');
    expect(plan).toMatchObject({ sizeBytes: 4 * 1024 ** 3, sectorSize: 512, table: 'gpt' });
    expect(plan.diskId).toMatch(UUID4);
    const [esp, root] = plan.partitions;
    expect(esp).toMatchObject({
      index: 1,
      id: 'esp',
      name: 'esp',
      typeGuid: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
      mbrType: 'ef',
      startSector: 2048,
      sizeSectors: 1048576,
      fsType: 'vfat',
      fatBits: 32,
      fsLabel: 'EFI',
      mountPoint: '/boot/efi',
      mountOptions: 'umask=0077',
      flags: ['esp', 'boot'],
    });
    expect(esp?.fsUuid).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}$/);
    expect(root).toMatchObject({
      index: 2,
      id: 'rootfs',
      name: 'root',
      typeGuid: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
      startSector: 1050624,
      fsType: 'ext4',
      mountPoint: '/',
    });
    // The backup GPT takes the last 33 sectors, so the last usable one is 34 before the end.
    expect((root?.startSector ?? 0) + (root?.sizeSectors ?? 0) - 1).toBe(GIB4_SECTORS - 34);
    expect(root?.fsUuid).toMatch(UUID4);
    expect(root?.partUuid).toMatch(UUID4);
  });

  it('gives the MBR variant type bytes, a disk signature and kernel-style PARTUUIDs, and lets root run to the last sector', async () => {
    const plan = planDisk({ ...(await defaultDisk()), partitionTableType: 'mbr' }, 'seed');
    expect(plan.table).toBe('dos');
    expect(plan.diskId).toMatch(/^[0-9a-f]{8}$/);
    expect(plan.partitions.map((p) => [p.mbrType, p.partUuid])).toEqual([
      ['ef', `${plan.diskId}-01`],
      ['83', `${plan.diskId}-02`],
    ]);
    const root = plan.partitions[1];
    expect((root?.startSector ?? 0) + (root?.sizeSectors ?? 0)).toBe(GIB4_SECTORS);
  });
});

describe('planDisk sizes and types', () => {
  it.each([
    ['2048K', '100M', 4096, 200704],
    ['1M', '1G', 2048, 2095104],
    ['1048576', '104857600', 2048, 202752],
    ['1MiB', '64MB', 2048, 122952],
  ])('reads start %s and end %s as sectors %i + %i', (start, end, startSector, sizeSectors) => {
    const plan = planDisk(disk({ start, end }, { size: '2GiB' }), 's');
    expect(plan.partitions[0]).toMatchObject({ startSector, sizeSectors });
  });

  it.each([
    ['ext4', { fsType: 'ext4' }],
    ['ext3', { fsType: 'ext3' }],
    ['ext2', { fsType: 'ext2' }],
    ['fat32', { fsType: 'vfat', fatBits: 32 }],
    ['fat16', { fsType: 'vfat', fatBits: 16 }],
    ['fat12', { fsType: 'vfat', fatBits: 12 }],
    ['vfat', { fsType: 'vfat', fatBits: undefined }],
    ['fat', { fsType: 'vfat', fatBits: undefined }],
  ])('maps fsType %s to %o', (fsType, expected) => {
    const p = planDisk(disk({ fsType }), 's').partitions[0];
    expect({ fsType: p?.fsType, fatBits: p?.fatBits }).toEqual({ fatBits: undefined, ...expected });
  });

  it.each(['none', undefined])('plans no filesystem and no mount for fsType %s', (fsType) => {
    const p = planDisk(disk({ fsType, mountPoint: undefined, fsLabel: 'x' }), 's').partitions[0];
    expect(p).toMatchObject({ fsUuid: '' });
    expect(p?.fsType).toBeUndefined();
    expect(p?.fsLabel).toBeUndefined();
  });

  it.each([
    ['gpt', { type: 'linux', typeUUID: 'B921B045-1DF0-41C3-AF44-4C6F280D3FAE' }, 'b921b045-1df0-41c3-af44-4c6f280d3fae', '83'],
    ['gpt', { type: 'linux-home' }, '933ac7e1-2eb4-4f13-b844-0e14e2aef915', '83'],
    ['gpt', { type: 'swap' }, '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f', '82'],
    ['gpt', { type: 'bios_grub' }, '21686148-6449-6e6f-744e-656564454649', ''],
    ['gpt', { type: 'vendor-thing', typeUUID: '11111111-2222-4333-8444-555555555555' }, '11111111-2222-4333-8444-555555555555', ''],
    ['gpt', {}, '0fc63daf-8483-4772-8e79-3d69d8477de4', '83'],
    ['mbr', { type: 'esp' }, 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', 'ef'],
    ['mbr', { typeUUID: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b' }, 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', 'ef'],
    ['dos', { typeUUID: '0x8E' }, '', '8e'],
    ['mbr', { type: 'linux', typeUUID: 'c' }, '0fc63daf-8483-4772-8e79-3d69d8477de4', '0c'],
  ])('in a %s table resolves %o to type GUID %s and MBR type %s', (table, fields, typeGuid, mbrType) => {
    const p = planDisk(disk(fields, { partitionTableType: table }), 's').partitions[0];
    expect({ typeGuid: p?.typeGuid, mbrType: p?.mbrType }).toEqual({ typeGuid, mbrType });
  });
});

describe('planDisk identifiers', () => {
  it('gives the same plan for the same seed, and different identifiers for another seed', async () => {
    const d = await defaultDisk();
    const [a, b, c] = [planDisk(d, 'build-1'), planDisk(d, 'build-1'), planDisk(d, 'build-2')];
    expect(b).toEqual(a);
    const ids = (p: typeof a) => [p.diskId, ...p.partitions.flatMap((x) => [x.partUuid, x.fsUuid])];
    expect(new Set(ids(a)).size).toBe(5);
    for (const [x, y] of ids(a).map((v, i) => [v, ids(c)[i]])) expect(x).not.toBe(y);
  });

  it('derives a partition identifier from its id, not its position', () => {
    const one = planDisk(
      { size: '64MiB', partitionTableType: 'gpt', partitions: [{ id: 'root', start: '1MiB', end: '0', fsType: 'ext4', mountPoint: '/' }] },
      's',
    );
    const two = planDisk(
      {
        size: '64MiB',
        partitionTableType: 'gpt',
        partitions: [
          { id: 'data', start: '1MiB', end: '2MiB' },
          { id: 'root', start: '2MiB', end: '0', fsType: 'ext4', mountPoint: '/' },
        ],
      },
      's',
    );
    expect(two.partitions[1]?.partUuid).toBe(one.partitions[0]?.partUuid);
    expect(two.partitions[1]?.fsUuid).toBe(one.partitions[0]?.fsUuid);
  });
});

describe('planDisk refuses', () => {
  it('an unknown type without typeUUID, naming the partition and the known types', () => {
    const err = userError(() => planDisk(disk({ type: 'linux-root-sparc' }), 's'));
    expect(err.message).toContain('partition "root"');
    expect(err.message).toContain('linux-root-sparc');
    expect(err.hint).toContain('esp, bios-grub, linux, linux-root-amd64');
  });

  it.each(['xfs', 'btrfs', 'swap'])('fsType %s, naming the partition and the supported list', (fsType) => {
    const err = userError(() => planDisk(disk({ fsType }), 's'));
    expect(err.message).toContain(`partition "root" (disk.partitions[0]) has fsType "${fsType}"`);
    expect(err.hint).toContain('ext4, ext3, ext2, fat32, fat16, fat12, vfat, or none');
  });

  it.each([
    ['FAT32 under 33MiB', disk({ fsType: 'fat32', mountPoint: '/', end: '33MiB' }), 'too small for FAT32'],
    ['a typeUUID that is not a GUID', disk({ typeUUID: 'esp' }), 'is not a GUID'],
    ['a GPT-only type in an MBR table', disk({ type: 'bios-grub' }, { partitionTableType: 'mbr' }), 'has no MBR partition type'],
    ['a start inside the GPT', disk({ start: '16K' }), 'first usable sector is 34'],
    ['an end past the backup GPT', disk({ end: '64MiB' }), 'past the last usable sector 131038'],
    ['an end before the start', disk({ start: '2MiB', end: '1MiB' }), 'must be after its start'],
    ['an offset that is not whole sectors', disk({ start: '1000' }), 'multiple of 512 bytes'],
    ['a relative mount point', disk({ mountPoint: 'boot' }), 'must be an absolute path'],
    ['a mount point with ..', disk({ mountPoint: '/boot/../etc' }), 'must not contain . or .. segments'],
    ['an id that is not a file name', disk({ id: '../x' }), '.id must be a name'],
    ['an unknown flag', disk({ flags: ['shiny'] }), '"shiny" is not a known flag'],
    ['a GPT attribute in an MBR table', disk({ flags: ['no_automount'] }, { partitionTableType: 'mbr' }), 'no meaning in an MBR table'],
    ['a FAT label over 11 characters', disk({ fsType: 'vfat', fsLabel: 'EFI-SYSTEM-P' }), '1 to 11 ASCII characters'],
    ['an unknown table type', disk({}, { partitionTableType: 'apm' }), 'must be gpt or mbr'],
    ['a mount point without a filesystem', disk({ fsType: 'none' }), 'has no filesystem'],
  ])('%s', (_, d, message) => {
    expect(userError(() => planDisk(d, 's')).message).toContain(message);
  });

  it('more than four partitions in an MBR table', () => {
    const partitions = [1, 2, 3, 4, 5].map((n) => ({ id: `p${n}`, start: `${n}MiB`, end: `${n + 1}MiB` }));
    expect(userError(() => planDisk({ size: '64MiB', partitionTableType: 'mbr', partitions }, 's')).message).toContain('4 primary partitions');
  });

  it('overlapping partitions', () => {
    const partitions = [
      { id: 'a', start: '1MiB', end: '10MiB' },
      { id: 'b', start: '9MiB', end: '0', fsType: 'ext4', mountPoint: '/' },
    ];
    expect(userError(() => planDisk({ size: '64MiB', partitionTableType: 'gpt', partitions }, 's')).message).toBe('partition "b" overlaps partition "a"');
  });

  it('an end of "0" on a partition that is not the last', () => {
    const partitions = [
      { id: 'a', start: '1MiB', end: '0' },
      { id: 'b', start: '9MiB', end: '10MiB' },
    ];
    expect(userError(() => planDisk({ size: '64MiB', partitionTableType: 'gpt', partitions }, 's')).message).toContain('only the last partition');
  });
});

describe('fstab', () => {
  it('mounts root first by PARTUUID, then the ESP with pass 2', async () => {
    const plan = planDisk(await defaultDisk(), 'seed');
    const [esp, root] = plan.partitions;
    expect(fstab(plan).split('\n')).toEqual([
      '# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>',
      `PARTUUID=${root?.partUuid}\t/\text4\tdefaults\t0\t1`,
      `PARTUUID=${esp?.partUuid}\t/boot/efi\tvfat\tumask=0077\t0\t2`,
      '',
    ]);
  });

  it('orders parents before children and skips unmounted partitions', () => {
    const plan = planDisk(
      {
        size: '256MiB',
        partitionTableType: 'gpt',
        partitions: [
          { id: 'esp', start: '1MiB', end: '65MiB', fsType: 'fat16', mountPoint: '/boot/efi' },
          { id: 'boot', start: '65MiB', end: '129MiB', fsType: 'ext2', mountPoint: '/boot', mountOptions: 'nodev' },
          { id: 'spare', start: '129MiB', end: '130MiB' },
          { id: 'root', start: '130MiB', end: '0', fsType: 'ext4', mountPoint: '/' },
        ],
      },
      's',
    );
    const mounts = fstab(plan)
      .split('\n')
      .filter((l) => l.startsWith('PARTUUID='))
      .map((l) => l.split('\t').slice(1).join(' '));
    expect(mounts).toEqual(['/ ext4 defaults 0 1', '/boot ext2 nodev 0 2', '/boot/efi vfat defaults 0 2']);
  });
});

describe('sfdiskScript', () => {
  it('writes a GPT script with disk and partition GUIDs, names and attributes', () => {
    const plan = planDisk(
      {
        size: '64MiB',
        partitionTableType: 'gpt',
        partitions: [
          { id: 'esp', name: 'EFI system', type: 'esp', flags: ['esp', 'legacy_boot'], start: '1MiB', end: '35MiB', fsType: 'fat32', mountPoint: '/boot/efi' },
          { id: 'root', type: 'linux-root-amd64', flags: ['no_automount', 'required'], start: '35MiB', end: '0', fsType: 'ext4', mountPoint: '/' },
        ],
      },
      'seed',
    );
    const [esp, root] = plan.partitions;
    expect(sfdiskScript(plan)).toBe(
      [
        'label: gpt',
        `label-id: ${plan.diskId.toUpperCase()}`,
        'unit: sectors',
        'sector-size: 512',
        '',
        `start=2048, size=69632, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=${esp?.partUuid.toUpperCase()}, name="EFI system", attrs="LegacyBIOSBootable"`,
        `start=71680, size=59359, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=${root?.partUuid.toUpperCase()}, name="root", attrs="GUID:63 RequiredPartition"`,
        '',
      ].join('\n'),
    );
  });

  it('writes an MBR script with the disk signature, type bytes and the boot flag, and lowers first-lba only in GPT', () => {
    const plan = planDisk(
      {
        size: '64MiB',
        partitionTableType: 'mbr',
        partitions: [
          { id: 'esp', type: 'esp', flags: ['boot'], start: '32K', end: '35MiB', fsType: 'fat32', mountPoint: '/boot/efi' },
          { id: 'root', start: '35MiB', end: '0', fsType: 'ext4', mountPoint: '/' },
        ],
      },
      'seed',
    );
    expect(sfdiskScript(plan)).toBe(
      [
        'label: dos',
        `label-id: 0x${plan.diskId}`,
        'unit: sectors',
        'sector-size: 512',
        '',
        'start=64, size=71616, type=ef, bootable',
        'start=71680, size=59392, type=83',
        '',
      ].join('\n'),
    );
  });

  it('lowers first-lba in a GPT script when a partition starts before sector 2048', () => {
    const plan = planDisk(disk({ start: '17408' }), 's');
    expect(sfdiskScript(plan)).toContain('sector-size: 512\nfirst-lba: 34\n');
  });
});

describe('reproducibleTarArgs', () => {
  it('sorts names, keeps numeric owners and xattrs, clamps mtimes and fixes atime and ctime to SOURCE_DATE_EPOCH', () => {
    expect(reproducibleTarArgs('/r', '/s/root.tar', 1700000000)).toEqual([
      'tar',
      '--sort=name',
      '--numeric-owner',
      '--xattrs',
      '--xattrs-include=*',
      '--format=pax',
      '--mtime=@1700000000',
      '--clamp-mtime',
      '--pax-option=delete=atime,delete=ctime,atime:=1700000000,ctime:=1700000000',
      '-C',
      '/r',
      '-cf',
      '/s/root.tar',
      '.',
    ]);
  });
});

describe('partitionTypeName', () => {
  it.each([
    ['gpt', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'esp'],
    ['gpt', '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', 'linux-root-amd64'],
    ['dos', '83', 'linux'],
    ['dos', '0xef', 'esp'],
    ['gpt', '00000000-0000-0000-0000-000000000001', undefined],
  ] as const)('names %s type %s %s', (table, code, want) => {
    expect(partitionTypeName(table, code)).toBe(want);
  });
});

describe('FAT32 cluster size', () => {
  // mkfs.fat would size clusters for the whole image file; a 128 MiB ESP on a 1 GiB disk then had too few clusters.
  it.each([
    [512 * 2048, 8],
    [256 * 2048, 4],
    [128 * 2048, 2],
    [64 * 2048, 1],
    [33 * 2048, 1],
  ])('gives %i sectors %i sectors per cluster, and at least 65525 clusters from 33 MiB', (sectors, spc) => {
    expect(fat32SectorsPerCluster(sectors)).toBe(spc);
    expect(sectors / fat32SectorsPerCluster(sectors)).toBeGreaterThanOrEqual(65_525);
  });
});
