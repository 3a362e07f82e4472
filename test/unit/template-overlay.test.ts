// Overlay mode: the template keys (baseline, overlayPolicy, additionalFiles
// stage) and their validation, the merge over the default template (only what
// the user states is added), the resolution's baseline repository, the disk
// plan made from a baseline's layout, and the image's expected package set.
import { describe, expect, it } from 'vitest';
import type { BaselineLayout } from '../../src/baseline/layout.js';
import { fatBitsOf, overlayDiskPlan } from '../../src/compose/overlay/plan.js';
import { bootTemplate } from '../../src/compose/overlay/kind.js';
import { installedRecords } from '../../src/deb/status.js';
import type { PackageRecord } from '../../src/deb/types.js';
import { UserError } from '../../src/errors.js';
import { imagePackagesOf } from '../../src/lock/file.js';
import type { LockFile } from '../../src/lock/types.js';
import { BASELINE_REPO, baselineRepo, explainOverlayFailure, explicitConflicts, overlayPackages } from '../../src/packages/baseline-lock.js';
import { parseTemplate } from '../../src/template/load.js';
import { mergeOverDefaults } from '../../src/template/merge.js';
import { overlayOf } from '../../src/template/overlay/spec.js';
import { validateTemplate } from '../../src/template/validate.js';

const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/security', work_dir: '/w' };

const DEFAULTS = [
  'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
  'disk:',
  '  size: 4GiB',
  '  partitionTableType: gpt',
  '  artifacts: [{type: raw}]',
  '  partitions:',
  '    - {id: esp, start: 1MiB, end: 513MiB, fsType: fat32, mountPoint: /boot/efi, typeUUID: C12A7328-F81F-11D2-BA4B-00A0C93EC93B}',
  '    - {id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}',
  'packageRepositories:',
  '  - {codename: trixie, url: "${mirror}", component: main}',
  'systemConfig:',
  '  hostname: debian',
  '  bootloader: {bootType: efi, provider: systemd-boot}',
  '  packages: [systemd-sysv, udev]',
  '  kernel: {packages: [linux-image-amd64], cmdline: "console=ttyS0 root=LABEL=root rw"}',
  '',
].join('\n');

const OVERLAY = [
  'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
  'baseline:',
  '  mode: overlay',
  '  source: {path: "${work_dir}/base.raw", format: raw}',
];

function merged(...user: string[]) {
  const defaults = parseTemplate(DEFAULTS, 'default.yml', VARS).template;
  const mine = parseTemplate(`${user.join('\n')}\n`, 'user.yml', VARS).template;
  return mergeOverDefaults(defaults, mine);
}
const check = (...user: string[]) => validateTemplate(merged(...user), 'merged');

describe('overlay templates', () => {
  it('merge only what the user states over the baseline: its packages, no default packages, bootloader packages, layout or host name', () => {
    const t = merged(...OVERLAY, 'systemConfig:', '  packages: [curl]');
    expect(t.systemConfig?.packages).toEqual(['curl']);
    expect(t.systemConfig?.kernel?.packages).toEqual([]);
    expect(t.systemConfig?.hostname).toBeUndefined();
    expect(t.disk).toEqual({ artifacts: [{ type: 'raw' }] });
    expect(t.systemConfig?.bootloader?.provider).toBe('systemd-boot');
    expect(check(...OVERLAY, 'systemConfig:', '  packages: [curl]').errors).toEqual([]);
    expect(overlayOf(t)).toEqual({
      source: { path: '/w/base.raw' },
      format: 'raw',
      packageOperation: 'additive-only',
      conflictPolicy: 'fail',
      allowDiskResize: false,
    });
  });

  it('keep a host name, a disk size and the policy the user gives', () => {
    const t = merged(
      ...OVERLAY,
      'overlayPolicy: {packageOperation: additive-and-upgrade, allowDiskResize: true, kernelCmdline: "console=ttyS0 quiet"}',
      'disk: {size: 5GiB}',
      'systemConfig: {hostname: box}',
    );
    expect(t.systemConfig?.hostname).toBe('box');
    expect(t.disk?.size).toBe('5GiB');
    expect(overlayOf(t)).toMatchObject({ packageOperation: 'additive-and-upgrade', allowDiskResize: true, kernelCmdline: 'console=ttyS0 quiet' });
    expect(bootTemplate(t).systemConfig?.kernel?.cmdline).toBe('console=ttyS0 quiet');
  });

  it('a create-mode template has no overlay', () => {
    expect(overlayOf(merged('target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}', 'baseline: {mode: create}'))).toBeUndefined();
  });

  it.each([
    ['an unknown mode', ['baseline: {mode: layer}'], /user\.yml:2: baseline\.mode "layer" is not supported \(supported: create, overlay\)/],
    ['a source in create mode', ['baseline: {mode: create, source: {path: /x.raw}}'], /baseline\.source must be absent in create mode/],
    ['overlayPolicy without overlay', ['overlayPolicy: {allowDiskResize: true}'], /overlayPolicy is only for baseline\.mode: overlay/],
    ['no source', ['baseline: {mode: overlay}'], /baseline\.source is required in overlay mode/],
    ['path and url', ['baseline: {mode: overlay, source: {path: /x.raw, url: "https://127.0.0.1/x.raw"}}'], /must have exactly one of path and url/],
    ['a plain http url', ['baseline: {mode: overlay, source: {url: "http://127.0.0.1/x.raw"}}'], /must be an https:\/\/ URL \(plain http is refused\)/],
    [
      'an unknown format',
      ['baseline: {mode: overlay, source: {path: /x.img, format: vmdk}}'],
      /format "vmdk" is not supported \(supported: raw, qcow2, vhd, vhdx\)/,
    ],
    [
      'partitions of its own',
      ['baseline: {mode: overlay, source: {path: /x.raw}}', 'disk: {partitions: [{id: root, start: 1MiB, end: "0", fsType: ext4, mountPoint: /}]}'],
      /disk\.partitions is not used in overlay mode: the layout is the baseline's/,
    ],
    [
      'an unknown package operation',
      ['baseline: {mode: overlay, source: {path: /x.raw}}', 'overlayPolicy: {packageOperation: replace}'],
      /"replace" is not supported/,
    ],
    [
      'an unknown conflict policy',
      ['baseline: {mode: overlay, source: {path: /x.raw}}', 'overlayPolicy: {conflictPolicy: replace}'],
      /conflictPolicy "replace" is not supported/,
    ],
    [
      'package removal',
      ['baseline: {mode: overlay, source: {path: /x.raw}}', 'overlayPolicy: {allowPackageRemoval: true}'],
      /only adds \(and upgrades\) packages/,
    ],
    [
      'an unknown file stage',
      ['systemConfig: {additionalFiles: [{local: a.txt, final: /etc/a.txt, stage: post-boot}]}'],
      /additionalFiles\[0\]\.stage "post-boot" is not supported \(supported: pre-initramfs\)/,
    ],
  ])('refuse %s naming the line', (_what, lines, problem) => {
    const { errors } = check('target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}', ...lines);
    expect(errors.join('\n')).toMatch(problem);
  });

  it('accept an https baseline URL', () => {
    const t = merged(
      'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
      'baseline: {mode: overlay, source: {url: "https://127.0.0.1:8443/x.raw"}}',
    );
    expect(validateTemplate(t, 'merged').errors).toEqual([]);
    expect(overlayOf(t)?.source).toEqual({ url: 'https://127.0.0.1:8443/x.raw' });
  });

  it('refuse an overlay of another image type', () => {
    const iso = [
      'target: {os: debian, dist: debian13, arch: x86_64, imageType: iso}',
      'baseline: {mode: overlay, source: {path: /x.raw}}',
      'systemConfig: {packages: [curl]}',
    ];
    expect(check(...iso).errors.join('\n')).toMatch(/overlay builds a raw disk image, not imageType iso/);
  });
});

const rec = (name: string, version: string, repository: string, arch = 'amd64'): PackageRecord => ({
  name,
  version,
  architecture: arch,
  essential: false,
  depends: [],
  preDepends: [],
  provides: [],
  conflicts: [],
  breaks: [],
  filename: repository === BASELINE_REPO ? '' : `pool/${name}.deb`,
  size: 0,
  sha256: '',
  repository,
});

describe('the baseline in the resolution', () => {
  it("reads a dpkg database's installed packages as records with their relations and no file", () => {
    const status = [
      'Package: curl\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: 8.14.1-2\nDepends: libc6 (>= 2.34), libcurl4t64 (= 8.14.1-2)\nDescription: x\n more',
      'Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0',
      'Package: base-files\nEssential: yes\nStatus: install ok installed\nArchitecture: amd64\nVersion: 13.8',
    ].join('\n\n');
    const records = installedRecords(status, BASELINE_REPO);
    expect(records.map((r) => [r.name, r.version, r.essential, r.filename, r.sha256])).toEqual([
      ['curl', '8.14.1-2', false, '', ''],
      ['base-files', '13.8', true, '', ''],
    ]);
    expect(records[0]?.depends.map((c) => c.map((r) => r.name))).toEqual([['libc6'], ['libcurl4t64']]);
  });

  it('pins the baseline above every repository for additive-only, and level with the highest for additive-and-upgrade', () => {
    const repos = [
      { id: 'trixie', priority: 500, packages: [] },
      { id: 'extra', priority: 700, packages: [] },
    ];
    expect(baselineRepo([], 'additive-only', repos).priority).toBeGreaterThan(1000);
    expect(baselineRepo([], 'additive-and-upgrade', repos).priority).toBe(700);
  });

  it('installs what the baseline lacks or has older, and refuses a downgrade', () => {
    const baseline = [
      { name: 'libc6', version: '2.41-12', architecture: 'amd64' },
      { name: 'curl', version: '8.14.1-2', architecture: 'amd64' },
    ];
    const chosen = [rec('libc6', '2.41-12', BASELINE_REPO), rec('curl', '8.14.1-2+deb13u7', 'trixie'), rec('procps', '2:4.0.4-9', 'trixie')];
    expect(overlayPackages(chosen, baseline).map((p) => p.name)).toEqual(['curl', 'procps']);
    expect(() => overlayPackages([rec('curl', '8.0-1', 'trixie')], baseline)).toThrow(/would downgrade curl from the baseline's 8\.14\.1-2 to 8\.0-1/);
  });

  it('with allow-explicit, removes the baseline packages that conflict with a package the template names, either way round', () => {
    const dracut = { ...rec('dracut', '106-6', 'trixie'), provides: [{ name: 'linux-initramfs-tool' }], conflicts: [{ name: 'initramfs-tools' }] };
    const helper = { ...rec('helper', '1.0', 'trixie'), breaks: [{ name: 'old-tool', op: '<<' as const, version: '2' }] };
    const repos = [{ id: 'trixie', priority: 500, packages: [dracut, helper, rec('curl', '8.14.1-2', 'trixie')] }];
    const baseline = [
      rec('initramfs-tools', '0.148.4', BASELINE_REPO),
      { ...rec('other-tool', '1.0', BASELINE_REPO), conflicts: [{ name: 'linux-initramfs-tool' }] },
      rec('old-tool', '1.5', BASELINE_REPO),
      rec('libc6', '2.41-12', BASELINE_REPO),
    ];
    expect(explicitConflicts(['dracut', 'curl', 'helper=1.0'], repos, baseline, 'amd64')).toEqual([
      { name: 'initramfs-tools', by: 'dracut' },
      { name: 'other-tool', by: 'dracut' },
      { name: 'old-tool', by: 'helper' },
    ]);
    // A Breaks with a version the baseline's package does not have hits nothing.
    expect(explicitConflicts(['helper'], repos, [rec('old-tool', '2.1', BASELINE_REPO)], 'amd64')).toEqual([]);
    expect(explicitConflicts(['curl'], repos, baseline, 'amd64')).toEqual([]);
  });

  it('says what additive-only means when the resolution fails', () => {
    const err = explainOverlayFailure(new UserError('broken -> libc6 (>= 3): candidate 2.41-12 does not satisfy'), 'additive-only') as UserError;
    expect(err.message).toMatch(/additive-only: the baseline's packages keep their versions/);
    expect(err.hint).toMatch(/additive-and-upgrade/);
  });

  it('expects the built image without the baseline packages the overlay removes', () => {
    const lock = {
      image: { packages: [] },
      baseline: {
        packages: [
          { name: 'initramfs-tools', version: '0.148.4', architecture: 'all' },
          { name: 'libc6', version: '2.41-12', architecture: 'amd64' },
        ],
        removed: [{ name: 'initramfs-tools', by: 'dracut' }],
      },
    } as unknown as LockFile;
    expect(imagePackagesOf(lock).map((p) => p.name)).toEqual(['libc6']);
  });

  it("expects the built image to hold the baseline's packages with the lock's additions and upgrades", () => {
    const lock = {
      image: {
        packages: [
          { name: 'curl', version: '8.14.1-2+deb13u7', architecture: 'amd64', filename: 'pool/c.deb', size: 1, sha256: 'a'.repeat(64), repository: 'trixie' },
        ],
      },
      baseline: {
        packages: [
          { name: 'curl', version: '8.14.1-2', architecture: 'amd64' },
          { name: 'libc6', version: '2.41-12', architecture: 'amd64' },
        ],
      },
    } as unknown as LockFile;
    expect(imagePackagesOf(lock).map((p) => [p.name, p.version, p.sha256 !== ''])).toEqual([
      ['curl', '8.14.1-2+deb13u7', true],
      ['libc6', '2.41-12', false],
    ]);
  });
});

const LAYOUT: BaselineLayout = {
  sizeBytes: 4 * 1024 ** 3,
  loader: 'systemd-boot',
  table: {
    table: 'gpt',
    diskId: 'E1D1679B-2697-4348-AA70-2FFBF6720769',
    sectorSize: 512,
    partitions: [
      {
        number: 1,
        start: 2048,
        sectors: 1048576,
        offset: 2048 * 512,
        size: 1048576 * 512,
        type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
        name: 'esp',
        partUuid: '96d20b97-2794-441a-90c6-30b09a7b2bfe',
        filesystem: { type: 'vfat', uuid: 'ABCD-1234', label: 'EFI' },
      },
      {
        number: 2,
        start: 1050624,
        sectors: 7337951,
        offset: 1050624 * 512,
        size: 7337951 * 512,
        type: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
        name: 'root',
        partUuid: '1f907473-42bc-41f0-8ce5-1342333c1110',
        filesystem: { type: 'ext4', uuid: '0b0f1d53-5a0f-4c61-9d0a-6a2f4c2c2e44', label: 'root' },
      },
    ],
  },
} as BaselineLayout;
LAYOUT.esp = LAYOUT.table.partitions[0] as BaselineLayout['esp'];
LAYOUT.root = LAYOUT.table.partitions[1] as BaselineLayout['root'];

describe('the disk plan of an overlay', () => {
  it("keeps the baseline's table, GUIDs, offsets, filesystem UUIDs and labels at its size", () => {
    const plan = overlayDiskPlan(LAYOUT, { allowDiskResize: false, espFatBits: 32 });
    expect(plan).toMatchObject({ sizeBytes: 4 * 1024 ** 3, table: 'gpt', diskId: 'e1d1679b-2697-4348-aa70-2ffbf6720769' });
    expect(plan.partitions.map((p) => [p.index, p.startSector, p.sizeSectors, p.fsType, p.fatBits, p.fsUuid, p.fsLabel, p.mountPoint, p.partUuid])).toEqual([
      [1, 2048, 1048576, 'vfat', 32, 'ABCD-1234', 'EFI', '/boot/efi', '96d20b97-2794-441a-90c6-30b09a7b2bfe'],
      [2, 1050624, 7337951, 'ext4', undefined, '0b0f1d53-5a0f-4c61-9d0a-6a2f4c2c2e44', 'root', '/', '1f907473-42bc-41f0-8ce5-1342333c1110'],
    ]);
    expect(plan.partitions[0]?.typeGuid).toBe('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  });

  it('grows the last (root) partition to the new end when allowed, before the backup GPT', () => {
    const plan = overlayDiskPlan(LAYOUT, { size: '5GiB', allowDiskResize: true, espFatBits: 32 });
    expect(plan.sizeBytes).toBe(5 * 1024 ** 3);
    expect(plan.partitions[1]?.sizeSectors).toBe((5 * 1024 ** 3) / 512 - 33 - 1050624);
    expect(plan.partitions[0]?.sizeSectors).toBe(1048576);
  });

  it.each([
    [
      'a larger disk without allowDiskResize',
      { size: '5GiB', allowDiskResize: false },
      /larger than the baseline \(4GiB\), but overlayPolicy\.allowDiskResize is not true/,
    ],
    ['a smaller disk', { size: '3GiB', allowDiskResize: true }, /smaller than the baseline \(4GiB\): an overlay never shrinks the disk/],
  ])('refuses %s', (_what, o, problem) => {
    expect(() => overlayDiskPlan(LAYOUT, { ...o, espFatBits: 32 })).toThrow(problem);
  });

  it('reads the FAT width from the boot sector', () => {
    const sector = Buffer.alloc(512);
    sector.write('FAT32   ', 82, 'latin1');
    expect(fatBitsOf(sector)).toBe(32);
    const fat16 = Buffer.alloc(512);
    fat16.write('FAT16   ', 54, 'latin1');
    expect(fatBitsOf(fat16)).toBe(16);
    expect(fatBitsOf(Buffer.alloc(512))).toBeUndefined();
  });
});
