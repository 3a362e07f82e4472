import { describe, expect, it } from 'vitest';
import { parseTemplate } from '../../src/template/load.js';
import { mergeTemplates } from '../../src/template/merge.js';
import { debianArch, packageProblem, providerId, validateTemplate } from '../../src/template/validate.js';
import type { ImageTemplate } from '../../src/template/types.js';
import { IMAGE_TYPES } from '../../src/template/provider.js';

const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/security' };

// A valid default; each case merges a user template over it.
const BASE = [
  'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
  'disk:',
  '  size: 4GiB',
  '  partitionTableType: gpt',
  '  partitions:',
  '    - {id: esp, start: 1MiB, end: 513MiB, fsType: fat32, mountPoint: /boot/efi, typeUUID: C12A7328-F81F-11D2-BA4B-00A0C93EC93B}',
  '    - {id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}',
  'packageRepositories:',
  '  - {codename: trixie, url: "${mirror}", component: main contrib}',
  'systemConfig:',
  '  hostname: box',
  '  bootloader: {bootType: efi, provider: systemd-boot}',
  '  packages: [systemd-sysv, "vim=2:9.1.0-1"]',
  '  users: [{name: admin, hash_algo: sha512, groups: [sudo]}]',
  '',
].join('\n');

/** Errors and warnings of BASE merged with `user` (lines joined with newlines; line 1 is the first). */
function check(...user: string[]): { errors: string[]; warnings: string[] } {
  const base = parseTemplate(BASE, 'base.yml', VARS).template;
  const mine = parseTemplate(`${user.join('\n')}\n`, 'user.yml', VARS).template;
  return validateTemplate(mergeTemplates(base, mine), 'merged');
}

/** A user disk (replacing the default one) with the given partitions; the first is on line 5. */
function disk(...partitions: string[]): string[] {
  return ['disk:', '  size: 4GiB', '  partitionTableType: gpt', '  partitions:', ...partitions.map((p) => `    - ${p}`)];
}

const ESP = '{id: esp, start: 1MiB, end: 513MiB, fsType: vfat, mountPoint: /boot/efi}';

describe('validateTemplate', () => {
  it('accepts a valid template without errors or warnings', () => {
    expect(check('{}')).toEqual({ errors: [], warnings: [] });
  });

  it.each<[string, string[], string]>([
    [
      'overlapping partitions',
      disk(ESP, '{id: root, start: 500MiB, end: "0", fsType: ext4, mountPoint: /}'),
      'user.yml:6: disk.partitions[1].start (500MiB) overlaps partition "esp", which ends at 513MiB',
    ],
    [
      'two partitions ending at "0"',
      disk('{id: esp, start: 1MiB, end: "0", fsType: vfat, mountPoint: /boot/efi}', '{id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}'),
      'user.yml:5: disk.partitions[0].end is "0" (end of disk), which only the last partition may use',
    ],
    [
      'a start after the end',
      disk(ESP, '{id: root, start: 2GiB, end: 1GiB, fsType: ext4, mountPoint: /}'),
      'user.yml:6: disk.partitions[1].end (1GiB) must be after start (2GiB)',
    ],
    [
      'a partition past the disk size',
      disk(ESP, '{id: root, start: 513MiB, end: 5GiB, fsType: ext4, mountPoint: /}'),
      'user.yml:6: disk.partitions[1].end (5GiB) is past the end of disk.size 4GiB',
    ],
    [
      'a gpt partition over the backup table',
      disk(ESP, '{id: root, start: 513MiB, end: 4GiB, fsType: ext4, mountPoint: /}'),
      'the backup GPT needs the last 33 sectors',
    ],
    [
      'a partition inside the partition table',
      disk('{id: esp, start: 0, end: 513MiB, fsType: vfat, mountPoint: /boot/efi}', '{id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}'),
      'user.yml:5: disk.partitions[0].start is inside the gpt partition table; the first usable byte is 17408',
    ],
    [
      'an offset that is not whole sectors',
      disk(ESP, '{id: root, start: 538968000, end: "0", fsType: ext4, mountPoint: /}'),
      'disk.partitions[1].start must be a multiple of 512 bytes',
    ],
    [
      'repeated partition ids',
      disk(ESP, '{id: esp, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}'),
      'user.yml:6: disk.partitions[1].id repeats id "esp" of disk.partitions[0]',
    ],
    [
      'an unreadable size',
      disk(ESP, '{id: root, start: 513MiB, end: lots, fsType: ext4, mountPoint: /}'),
      'user.yml:6: disk.partitions[1].end is not a size: "lots"',
    ],
    [
      'an unknown partition table type',
      [
        'disk:',
        '  size: 4GiB',
        '  partitionTableType: dos',
        '  partitions:',
        `    - ${ESP}`,
        '    - {id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}',
      ],
      'user.yml:3: disk.partitionTableType must be gpt or mbr, not dos',
    ],
    [
      'a missing disk size',
      ['disk:', '  partitionTableType: gpt', '  partitions:', `    - ${ESP}`, '    - {id: root, start: 513MiB, end: 1GiB, fsType: ext4, mountPoint: /}'],
      'user.yml:2: disk.size is required',
    ],
    [
      'an unknown filesystem',
      disk(ESP, '{id: root, start: 513MiB, end: "0", fsType: zfs, mountPoint: /}'),
      'user.yml:6: disk.partitions[1].fsType "zfs" is not supported',
    ],
    [
      'a relative mount point',
      disk(ESP, '{id: root, start: 513MiB, end: 1GiB, fsType: ext4, mountPoint: /}', '{id: data, start: 1GiB, end: "0", fsType: ext4, mountPoint: data}'),
      'user.yml:7: disk.partitions[2].mountPoint must be an absolute, normalised path',
    ],
    [
      'a repeated mount point',
      disk(ESP, '{id: root, start: 513MiB, end: 1GiB, fsType: ext4, mountPoint: /}', '{id: data, start: 1GiB, end: "0", fsType: ext4, mountPoint: /}'),
      'user.yml:7: disk.partitions[2].mountPoint / is already the mount point of disk.partitions[1]',
    ],
    [
      'a swap partition (not written yet)',
      disk(ESP, '{id: root, start: 513MiB, end: 1GiB, fsType: ext4, mountPoint: /}', '{id: swap, start: 1GiB, end: "0", fsType: swap}'),
      'user.yml:7: disk.partitions[2].fsType "swap" is not supported',
    ],
    [
      'a mount without a filesystem',
      disk(ESP, '{id: root, start: 513MiB, end: "0", mountPoint: /}'),
      'user.yml:6: disk.partitions[1].fsType is required for a partition mounted at /',
    ],
    [
      'no root partition',
      disk(ESP, '{id: data, start: 513MiB, end: "0", fsType: ext4, mountPoint: /data}'),
      'user.yml:5: disk.partitions has no partition mounted at /',
    ],
    [
      'no EFI system partition for bootType efi',
      disk('{id: root, start: 1MiB, end: "0", fsType: ext4, mountPoint: /}'),
      'user.yml:5: disk.partitions has no EFI system partition',
    ],
    [
      'a typeUUID that is not a GUID',
      disk(ESP, '{id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /, typeUUID: linux}'),
      'user.yml:6: disk.partitions[1].typeUUID is not a GUID: linux',
    ],
    [
      'an unknown provider',
      ['target: {dist: debian11}'],
      'user.yml:1: target.dist debian/debian11/x86_64 is not supported (supported os-dist-arch: debian-debian12-x86_64, debian-debian13-x86_64, debian-debian13-aarch64)',
    ],
    [
      'an unsupported image type',
      ['target: {imageType: floppy}'],
      `user.yml:1: target.imageType "floppy" is not supported (supported: ${IMAGE_TYPES.join(', ')})`,
    ],
    ['a bad user name', ['systemConfig:', '  users:', '    - name: Admin'], 'user.yml:3: systemConfig.users[0].name "Admin" is not a valid user name'],
    [
      'an unknown password hash',
      ['systemConfig:', '  users:', '    - {name: admin, hash_algo: md5}'],
      'user.yml:3: systemConfig.users[0].hash_algo "md5" is not supported (use one of sha512, sha256, yescrypt)',
    ],
    [
      'a bad group name',
      ['systemConfig:', '  users:', '    - {name: ops, groups: ["Wheel Group"]}'],
      'user.yml:3: systemConfig.users[0].groups "Wheel Group" is not a valid group name',
    ],
    [
      'a local file escaping the template directory',
      ['systemConfig:', '  additionalFiles:', '    - {local: ../../etc/shadow, final: /etc/x}'],
      'user.yml:3: systemConfig.additionalFiles[0].local must be a file inside the template\'s directory, not "../../etc/shadow"',
    ],
    [
      'a local file escaping after a folder',
      ['systemConfig:', '  additionalFiles:', '    - {local: files/../../x, final: /etc/x}'],
      'user.yml:3: systemConfig.additionalFiles[0].local must be a file inside the template\'s directory, not "files/../../x"',
    ],
    [
      'an absolute local file',
      ['systemConfig:', '  additionalFiles:', '    - {local: /etc/passwd, final: /etc/x}'],
      'user.yml:3: systemConfig.additionalFiles[0].local must be a file inside the template\'s directory, not "/etc/passwd"',
    ],
    [
      'the template directory itself as local',
      ['systemConfig:', '  additionalFiles:', '    - {local: ., final: /etc/x}'],
      'user.yml:3: systemConfig.additionalFiles[0].local must be a file inside the template\'s directory, not "."',
    ],
    [
      'a final path with ".." segments',
      ['systemConfig:', '  additionalFiles:', '    - {local: x.conf, final: /../../tmp/x}'],
      'user.yml:3: systemConfig.additionalFiles[0].final must not contain ".." segments: "/../../tmp/x"',
    ],
    [
      'a final directory',
      ['systemConfig:', '  additionalFiles:', '    - {local: x.conf, final: /etc/}'],
      'user.yml:3: systemConfig.additionalFiles[0].final must name a file, not a directory: "/etc/"',
    ],
    [
      'a final path with an escape character',
      ['systemConfig:', '  additionalFiles:', '    - {local: x.conf, final: "/etc/\\e[2J"}'],
      'user.yml:3: systemConfig.additionalFiles[0].final contains the control character U+001B: "/etc/\\u001b[2J"',
    ],
    [
      'an immutable root',
      ['systemConfig:', '  immutability: {enabled: true}'],
      'user.yml:2: systemConfig.immutability.enabled is true, but a dm-verity (immutable) root is not implemented',
    ],
    [
      'a relative final path',
      ['systemConfig:', '  additionalFiles:', '    - {local: x.conf, final: etc/x}'],
      'user.yml:3: systemConfig.additionalFiles[0].final must be an absolute path in the image: "etc/x"',
    ],
    ['a bad package name', ['systemConfig:', '  packages: [vim, Emacs]'], 'user.yml:2: systemConfig.packages[1] "Emacs" is not a Debian package name'],
    [
      'a bad pinned version',
      ['systemConfig:', '  kernel:', '    packages: [linux-image-amd64=abc]'],
      'user.yml:3: systemConfig.kernel.packages[0] "linux-image-amd64=abc" has a version that must start with a digit',
    ],
    [
      'a repository that is not http(s)',
      ['packageRepositories:', '  - {codename: x, url: "ftp://127.0.0.1/debian"}'],
      'user.yml:2: packageRepositories[0].url must use http or https, not ftp:',
    ],
    [
      'a repository without a codename',
      ['packageRepositories:', '  - {url: "http://127.0.0.1:9/x"}'],
      'user.yml:2: packageRepositories[0].codename is required',
    ],
    [
      'a codename with an escape sequence',
      ['packageRepositories:', '  - {codename: "x\\e[2J", url: "http://127.0.0.1:9/x"}'],
      'user.yml:2: packageRepositories[0].codename must be one word of letters, digits and . _ / -, not "x\\u001b[2J"',
    ],
    [
      'a codename of two words',
      ['packageRepositories:', '  - {codename: "a b", url: "http://127.0.0.1:9/x"}'],
      'user.yml:2: packageRepositories[0].codename must be one word of letters, digits and . _ / -, not "a b"',
    ],
    [
      'a repository URL with an escape sequence',
      ['packageRepositories:', '  - {codename: x, url: "http://127.0.0.1:9/\\e]0;x\\a"}'],
      'user.yml:2: packageRepositories[0].url is not a valid URL: "http://127.0.0.1:9/\\u001b]0;x\\u0007" contains U+001B',
    ],
    ['a repository without a url', ['packageRepositories:', '  - {codename: x}'], 'user.yml:2: packageRepositories[0].url is required'],
    [
      'a repository key given as a URL',
      ['packageRepositories:', '  - {codename: x, url: "http://127.0.0.1:9/x", pkey: "https://127.0.0.1/key.gpg"}'],
      'user.yml:2: packageRepositories[0].pkey is a URL',
    ],
    [
      'a bad component',
      ['packageRepositories:', '  - {codename: x, url: "http://127.0.0.1:9/x", component: [main, "-x"]}'],
      'user.yml:2: packageRepositories[0].component "-x" is not a component name',
    ],
    ['a bad host name', ['systemConfig: {hostname: "my_box!"}'], 'user.yml:1: systemConfig.hostname "my_box!" is not a valid host name'],
    [
      'an unknown bootloader',
      ['systemConfig: {bootloader: {provider: lilo}}'],
      'user.yml:1: systemConfig.bootloader.provider must be one of systemd-boot, grub',
    ],
    [
      'an unknown artifact type',
      [...disk(ESP, '{id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}'), '  artifacts:', '    - {type: iso}'],
      'user.yml:8: disk.artifacts[0].type "iso" is not one of raw, qcow2, vhd, vhdx, vmdk',
    ],
    [
      'an unknown artifact compression',
      [
        ...disk(ESP, '{id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}'),
        '  artifacts:',
        '    - {type: raw}',
        '    - {type: qcow2, compression: bz2}',
      ],
      'user.yml:9: disk.artifacts[1].compression "bz2" is not one of gz, xz, zstd',
    ],
    [
      'an artifact listed twice',
      [
        ...disk(ESP, '{id: root, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}'),
        '  artifacts:',
        '    - {type: vmdk, compression: xz}',
        '    - {type: vmdk, compression: xz}',
      ],
      'user.yml:9: disk.artifacts[1] vmdk with xz is already listed as disk.artifacts[0]',
    ],
    [
      'an empty configuration command',
      ['systemConfig:', '  configurations:', '    - {cmd: " "}'],
      'user.yml:3: systemConfig.configurations[0].cmd is required',
    ],
  ])('reports %s with file:line and field path', (_name, user, expected) => {
    const { errors } = check(...user);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(expected);
  });

  it('warns about a repository accepted without a signature check', () => {
    const { errors, warnings } = check('packageRepositories:', '  - {codename: local, url: "http://127.0.0.1:9/local", trusted: true}');
    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      'user.yml:2: packageRepositories[0].trusted is true: local from http://127.0.0.1:9/local is accepted without checking its signature',
    ]);
  });

  it('reports every problem at once, naming the template when there is no recorded origin', () => {
    const { errors } = validateTemplate({ target: { os: 'debian' }, systemConfig: { packages: ['OK'] } } as ImageTemplate, 'merged template');
    expect(errors).toEqual([
      'merged template: target.dist is required',
      'merged template: target.arch is required',
      'merged template: target.imageType is required',
      'merged template: disk is required: the image needs a disk layout (size, partitionTableType, partitions)',
      'merged template: packageRepositories is empty: the image needs at least one package repository',
      'merged template: systemConfig.packages[0] "OK" is not a Debian package name (lower-case letters, digits, + - .; at least two characters)',
    ]);
  });

  it('asks for the target block once when it is missing', () => {
    const { errors } = validateTemplate(parseTemplate('image: {name: x}\n', 'user.yml', VARS).template, 'merged');
    expect(errors[0]).toBe('user.yml:1: target is required: {os, dist, arch, imageType}, e.g. debian, debian13, x86_64, raw');
    expect(errors.filter((e) => e.includes('target'))).toHaveLength(1);
  });

  it('accepts mbr tables from the first sector and partitions up to the very end', () => {
    const { errors } = check(
      'disk:',
      '  size: 1GiB',
      '  partitionTableType: mbr',
      '  partitions:',
      '    - {id: esp, start: 512, end: 100MiB, fsType: vfat, mountPoint: /boot/efi}',
      '    - {id: root, start: 100MiB, end: 1GiB, fsType: ext4, mountPoint: /}',
    );
    expect(errors).toEqual([]);
  });
});

describe('helpers', () => {
  it.each([
    ['vim', undefined],
    ['libc6=2.36-9+deb12u4', undefined],
    ['g++', undefined],
    ['a', 'is not a Debian package name'],
    ['Foo', 'is not a Debian package name'],
    ['foo=', 'has a version that is empty'],
  ])('packageProblem(%j)', (spec, problem) => {
    if (problem === undefined) expect(packageProblem(spec)).toBeUndefined();
    else expect(packageProblem(spec)).toContain(problem);
  });

  it('names the provider and the Debian architecture', () => {
    expect(providerId({ target: { os: 'debian', dist: 'debian13', arch: 'x86_64' } })).toBe('debian-debian13-x86_64');
    expect(debianArch('x86_64')).toBe('amd64');
    expect(debianArch('sparc')).toBeUndefined();
  });
});
