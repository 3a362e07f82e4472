import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTemplate } from '../../src/template/load.js';
import { mergeTemplates } from '../../src/template/merge.js';
import { locate } from '../../src/template/origin.js';
import type { ImageTemplate } from '../../src/template/types.js';

const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/security' };

const BASE = [
  'image: {name: base, version: "1"}', // 1
  'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}', // 2
  'disk:', // 3
  '  size: 4GiB', // 4
  '  partitions: [{id: esp, start: 1MiB, end: 513MiB}, {id: root, start: 513MiB, end: "0"}]', // 5
  'packageRepositories:', // 6
  '  - {codename: trixie, url: "${mirror}", component: main}', // 7
  '  - {codename: trixie-security, url: "${security_mirror}"}', // 8
  'systemConfig:', // 9
  '  hostname: base', // 10
  '  bootloader: {bootType: efi, provider: systemd-boot}', // 11
  '  packages: [systemd-sysv, udev]', // 12
  '  additionalFiles: [{local: a.conf, final: /etc/a.conf}, {local: b.conf, final: /etc/b.conf}]', // 13
  '  configurations: [{cmd: base-1}]', // 14
  '  users: [{name: admin, groups: [sudo], sudo: true}, {name: ops}]', // 15
  '  kernel: {packages: [linux-image-amd64], cmdline: base}', // 16
  'metadata: {owner: base, tier: 1}', // 17
  '',
].join('\n');

function load(text: string, file: string): ImageTemplate {
  return parseTemplate(text, file, VARS).template;
}

/** The default template above merged with a user template. */
function merge(user: string): ImageTemplate {
  return mergeTemplates(load(BASE, 'base.yml'), load(user, 'user.yml'));
}

describe('mergeTemplates', () => {
  it.each<[string, string, (m: ImageTemplate) => unknown, unknown]>([
    ['an empty user template keeps the defaults', '{}', (m) => m.image, { name: 'base', version: '1' }],
    ['user scalars override', 'image: {name: mine}', (m) => m.image, { name: 'mine', version: '1' }],
    [
      'nested scalars override one by one',
      'systemConfig: {bootloader: {provider: grub}}',
      (m) => m.systemConfig?.bootloader,
      { bootType: 'efi', provider: 'grub' },
    ],
    [
      'packages are added, without repeats, defaults first',
      'systemConfig: {packages: [vim, udev, vim]}',
      (m) => m.systemConfig?.packages,
      ['systemd-sysv', 'udev', 'vim'],
    ],
    [
      'kernel packages are added and kernel scalars override',
      'systemConfig: {kernel: {packages: [firmware-linux, linux-image-amd64], cmdline: mine}}',
      (m) => m.systemConfig?.kernel,
      { packages: ['linux-image-amd64', 'firmware-linux'], cmdline: 'mine' },
    ],
    [
      'users merge by name (user fields override) and new users are appended',
      'systemConfig: {users: [{name: admin, groups: [adm]}, {name: dev}]}',
      (m) => m.systemConfig?.users,
      [{ name: 'admin', groups: ['adm'], sudo: true }, { name: 'ops' }, { name: 'dev' }],
    ],
    [
      'additional files merge by final path',
      'systemConfig: {additionalFiles: [{local: mine.conf, final: /etc/b.conf}, {local: c.conf, final: /etc/c.conf}]}',
      (m) => m.systemConfig?.additionalFiles,
      [
        { local: 'a.conf', final: '/etc/a.conf' },
        { local: 'mine.conf', final: '/etc/b.conf' },
        { local: 'c.conf', final: '/etc/c.conf' },
      ],
    ],
    [
      'configurations are appended after the defaults',
      'systemConfig: {configurations: [{cmd: mine}]}',
      (m) => m.systemConfig?.configurations,
      [{ cmd: 'base-1' }, { cmd: 'mine' }],
    ],
    ['a user disk replaces the default disk entirely', 'disk: {size: 8GiB}', (m) => m.disk, { size: '8GiB' }],
    [
      'a repository with the same codename and url replaces the default one in place',
      'packageRepositories: [{codename: trixie, url: "${mirror}", component: main contrib, priority: 100}]',
      (m) => m.packageRepositories?.map((r) => [r.codename, r.component.join(' '), r.priority]),
      [
        ['trixie', 'main contrib', 100],
        ['trixie-security', 'main', 500],
      ],
    ],
    [
      'other repositories are appended',
      'packageRepositories: [{codename: trixie, url: "http://127.0.0.1:9/other"}]',
      (m) => m.packageRepositories?.map((r) => r.url),
      ['http://127.0.0.1:9/debian', 'http://127.0.0.1:9/security', 'http://127.0.0.1:9/other'],
    ],
    ['metadata is merged key by key', 'metadata: {owner: me, extra: {x: 1}}', (m) => m.metadata, { owner: 'me', tier: 1, extra: { x: 1 } }],
  ])('%s', (_name, user, pick, expected) => {
    expect(pick(merge(user))).toEqual(expected);
  });

  it('leaves both inputs unchanged', () => {
    const base = load(BASE, 'base.yml');
    const user = load('systemConfig: {packages: [vim], users: [{name: admin, sudo: false}]}', 'user.yml');
    const before = [JSON.stringify(base), JSON.stringify(user)];
    mergeTemplates(base, user);
    expect([JSON.stringify(base), JSON.stringify(user)]).toEqual(before);
  });

  it('keeps the file, line and path each merged value came from', () => {
    const m = merge(['systemConfig:', '  packages: [vim]', '  users:', '    - name: admin', '      groups: [adm]', ''].join('\n'));
    const base = path.resolve('base.yml');
    const user = path.resolve('user.yml');
    const packages = m.systemConfig?.packages as string[];
    expect(locate(packages, 0)).toEqual({ file: base, line: 12, path: 'systemConfig.packages[0]' });
    expect(locate(packages, 2)).toEqual({ file: user, line: 2, path: 'systemConfig.packages[0]' });
    const admin = m.systemConfig?.users?.[0] as object;
    expect(locate(admin, 'groups')).toEqual({ file: user, line: 5, path: 'systemConfig.users[0].groups' });
    expect(locate(admin, 'sudo')).toEqual({ file: base, line: 15, path: 'systemConfig.users[0].sudo' });
    expect(locate(m.systemConfig, 'hostname')).toMatchObject({ file: base, line: 10 });
    expect(locate(m.disk?.partitions?.[1], 'end')).toMatchObject({ file: base, line: 5, path: 'disk.partitions[1].end' });
  });
});
