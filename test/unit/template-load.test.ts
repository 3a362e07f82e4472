import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { loadTemplate, parseTemplate } from '../../src/template/load.js';
import { locate } from '../../src/template/origin.js';
import { TEMPLATE_SHAPE } from '../../src/template/schema.js';
import type { ImageTemplate, PartitionTemplate } from '../../src/template/types.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-template-');
const FILE = 'img.yml';
const VARS = { mirror: 'http://127.0.0.1:9/debian/', security_mirror: 'http://127.0.0.1:9/security' };

const VALID = [
  'image:', // 1
  '  name: demo', // 2
  '  version: 1.10', // 3
  'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}', // 4
  'disk:', // 5
  '  size: 4GiB', // 6
  '  partitionTableType: gpt', // 7
  '  partitions:', // 8
  '    - id: root', // 9
  '      start: 1048576', // 10
  '      end: "0"', // 11
  'packageRepositories:', // 12
  '  - codename: trixie', // 13
  '    url: ${mirror}', // 14
  '    component: main contrib', // 15
  '  - codename: extra', // 16
  '    url: http://127.0.0.1:9/extra/', // 17
  '    component: [main]', // 18
  '    priority: 900', // 19
  '    trusted: true', // 20
  '    arch: amd64, all', // 21
  '    allowPackages: [foo]', // 22
  'systemConfig:', // 23
  '  packages: [vim, curl]', // 24
  '  users:', // 25
  '    - name: admin', // 26
  '      groups: [sudo]', // 27
  '      sudo: true', // 28
  '  kernel:', // 29
  '    version: 6.10', // 30
  '    packages:', // 31
  'metadata:', // 32
  '  tags: [a, b]', // 33
  '',
].join('\n');

/** The UserError parsing `text` throws (fails the test when none is thrown). */
function parseError(text: string, vars: Record<string, string | undefined> = VARS): UserError {
  try {
    parseTemplate(text, FILE, vars);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected parseTemplate to throw');
}

describe('parseTemplate', () => {
  it('reads every section, keeping numbers that are names in their written form', () => {
    const { template: t, warnings } = parseTemplate(VALID, FILE, VARS);
    expect(warnings).toEqual([]);
    expect(t.image).toEqual({ name: 'demo', version: '1.10' });
    expect(t.target).toEqual({ os: 'debian', dist: 'debian13', arch: 'x86_64', imageType: 'raw' });
    expect(t.disk?.partitions).toEqual([{ id: 'root', start: '1048576', end: '0' }]);
    expect(t.systemConfig?.kernel).toEqual({ version: '6.10' });
    expect(t.systemConfig?.users).toEqual([{ name: 'admin', groups: ['sudo'], sudo: true }]);
    expect(t.metadata).toEqual({ tags: ['a', 'b'] });
  });

  it('gives repositories their parsed form: defaults, split components, expanded URLs without trailing slashes', () => {
    const repos = parseTemplate(VALID, FILE, VARS).template.packageRepositories;
    expect(repos).toEqual([
      { codename: 'trixie', url: 'http://127.0.0.1:9/debian', component: ['main', 'contrib'], priority: 500, trusted: false },
      {
        codename: 'extra',
        url: 'http://127.0.0.1:9/extra',
        component: ['main'],
        priority: 900,
        trusted: true,
        arch: ['amd64', 'all'],
        allowPackages: ['foo'],
      },
    ]);
  });

  it('records the line of every field path, and origins that survive as object annotations', () => {
    const loaded = parseTemplate(VALID, FILE, VARS);
    expect(loaded.lines('disk.partitions[0].end')).toBe(11);
    expect(loaded.lines('packageRepositories[1].priority')).toBe(19);
    expect(loaded.lines('systemConfig.packages[1]')).toBe(24);
    expect(loaded.lines('disk.partitions[0].fsType')).toBeUndefined();
    const part = loaded.template.disk?.partitions?.[0] as object;
    expect(locate(part, 'end')).toEqual({ file: path.resolve(FILE), line: 11, path: 'disk.partitions[0].end' });
    // An absent key points at its object, where the user would add it.
    expect(locate(part, 'fsType')).toEqual({ file: path.resolve(FILE), line: 9, path: 'disk.partitions[0].fsType' });
  });

  it.each([
    ['a wrong type', 'systemConfig:\n  users:\n    - name: a\n    - name: [b]\n', 'img.yml:4: systemConfig.users[1].name must be a string'],
    ['a boolean for a string', 'image:\n  name: true\n', 'img.yml:2: image.name must be a string'],
    ['a list for a mapping', 'disk: [1, 2]\n', 'img.yml:1: disk must be a mapping'],
    ['a mapping for a list', 'systemConfig:\n  packages: {a: 1}\n', 'img.yml:2: systemConfig.packages must be a list of strings'],
    ['a list item of the wrong type', 'systemConfig:\n  packages:\n    - vim\n    - {x: 1}\n', 'img.yml:4: systemConfig.packages[1] must be a string'],
    [
      'a string for a boolean',
      'packageRepositories:\n  - codename: x\n    trusted: "yes"\n',
      'img.yml:3: packageRepositories[0].trusted must be true or false',
    ],
    [
      'a fraction for a priority',
      'packageRepositories:\n  - codename: x\n    priority: 1.5\n',
      'img.yml:3: packageRepositories[0].priority must be a whole number',
    ],
    ['a scalar metadata', 'metadata: hello\n', 'img.yml:1: metadata must be a mapping'],
    ['a document that is not a mapping', '- a\n- b\n', 'img.yml:1: document must be a mapping'],
    ['a tab as indentation', 'image:\n  name: a\n\tbad: 1\n', 'img.yml:3: malformed YAML: Tabs are not allowed as indentation'],
    ['misaligned keys', 'a: 1\nb:\n  c: 1\n d: 2\n', 'img.yml:4: malformed YAML: All mapping items must start at the same column'],
    ['a duplicate key', 'image:\n  name: a\n  name: b\n', 'img.yml:3: malformed YAML'],
    [
      'an unset ${mirror}',
      'packageRepositories:\n  - codename: x\n    url: ${mirror}/debian\n',
      'img.yml:3: packageRepositories[0].url uses ${mirror}, which is not set',
    ],
    ['an unknown ${variable}', 'packageRepositories:\n  - url: ${nope}\n', 'img.yml:2: packageRepositories[0].url uses ${nope}, which is not set'],
  ])('refuses %s with file:line and field path', (_name, text, message) => {
    expect(parseError(text, { ...VARS, mirror: undefined }).message).toContain(message);
  });

  it('refuses unknown keys at every level, all at once, with line, path and the nearest known key', () => {
    const text = [
      'bogus: 1',
      'disk:',
      '  partitions:',
      '    - id: a',
      '      fsTyp: ext4',
      'systemConfig:',
      '  hostnme: box',
      '  kernel:',
      '    cmdlin: quiet',
      '',
    ].join('\n');
    const err = parseError(text);
    expect(err.message).toBe(
      [
        'image template img.yml has 4 problems:',
        '  img.yml:1: bogus is not a template key (known here: extends, baseline, overlayPolicy, image, target, disk, packageRepositories, systemConfig, metadata)',
        '  img.yml:5: disk.partitions[0].fsTyp is not a template key (did you mean "fsType"?)',
        '  img.yml:7: systemConfig.hostnme is not a template key (did you mean "hostname"?)',
        '  img.yml:9: systemConfig.kernel.cmdlin is not a template key (did you mean "cmdline"?)',
      ].join('\n'),
    );
    expect(err.hint).toMatch(/never ignored/);
  });

  it('refuses one unknown key with just its own line', () => {
    expect(parseError('image:\n  nmae: x\n').message).toBe('img.yml:2: image.nmae is not a template key (did you mean "name"?)');
  });

  it('refuses keys that are names of object properties instead of reading them', () => {
    expect(parseError('image:\n  constructor: x\n  toString: y\n').message).toMatch(
      /img\.yml:2: image\.constructor is not a template key[^\n]*\n {2}img\.yml:3: image\.toString is not a template key/,
    );
  });

  it('prints an unknown key with control characters escaped', () => {
    const message = parseError('"a\\e[2J\\u202e": 1\n').message;
    expect(message).toMatch(/^img\.yml:1: a\\u001b\[2J\\u202e is not a template key/);
    expect(message).not.toMatch(/[\u001b\u202e]/);
  });

  it.each([
    ['an enabled fde', 'systemConfig:\n  fde: {enabled: true, passphraseFile: /run/p}\n', 'img.yml:2: systemConfig.fde', /encrypts partitions/],
    [
      'Secure Boot keys',
      'systemConfig:\n  immutability:\n    enabled: false\n    secureBootDBKey: db.key\n',
      'img.yml:4: systemConfig.immutability.secureBootDBKey',
      /signs the image for Secure Boot/,
    ],
    ['kernel.uki: true', 'systemConfig:\n  kernel: {uki: true}\n', 'img.yml:2: systemConfig.kernel.uki', /Unified Kernel Image/],
    [
      'kernel.enableExtraModules',
      'systemConfig:\n  kernel: {enableExtraModules: "kvm"}\n',
      'img.yml:2: systemConfig.kernel.enableExtraModules',
      /extra kernel modules/,
    ],
  ])("refuses %s from OS Image Composer's format, which would change the image", (_what, text, at, why) => {
    const message = parseError(text).message;
    expect(message.startsWith(`${at} is part of OS Image Composer's format but not implemented by g3-composer, and `)).toBe(true);
    expect(message).toMatch(why);
  });

  it("loads OS Image Composer's keys that change nothing, with a warning for each", () => {
    const text = [
      'metadata: {description: edge device, keywords: [edge]}', // 1
      'baseline: {mode: create}', // 2
      'image: {name: edge, version: "1.0.0"}', // 3
      'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}', // 4
      'disk: {name: d, path: /dev/sda}', // 5
      'systemConfig:', // 6
      '  fde: {enabled: false}', // 7
      // 8: read as data; validation warns on raw and refuses it on iso (test/unit/iso.test.ts)
      '  initramfs: {template: initrd.yml}', // 8
      '  kernel: {uki: false, enableExtraModules: ""}', // 9
      '',
    ].join('\n');
    const { template, warnings } = parseTemplate(text, FILE, VARS);
    expect(warnings).toEqual([
      'img.yml:7: systemConfig.fde has enabled: false; ignored (not implemented by g3-composer)',
      'img.yml:9: systemConfig.kernel.uki is false; ignored (not implemented by g3-composer)',
      'img.yml:9: systemConfig.kernel.enableExtraModules is empty; ignored (not implemented by g3-composer)',
    ]);
    // baseline mode create is read as written (overlay mode is the other one), without a warning.
    expect(template.baseline).toEqual({ mode: 'create' });
    expect(template.disk).toEqual({ name: 'd', path: '/dev/sda' });
    expect(template.metadata).toEqual({ description: 'edge device', keywords: ['edge'] });
  });

  it('follows YAML aliases', () => {
    const text = 'systemConfig:\n  hostname: &h box\n  description: *h\n  packages: &p [vim]\n  kernel: {packages: *p}\n';
    const { template } = parseTemplate(text, FILE, VARS);
    expect(template.systemConfig).toMatchObject({ hostname: 'box', description: 'box', packages: ['vim'], kernel: { packages: ['vim'] } });
  });

  it('treats a key with no value as not set', () => {
    const { template } = parseTemplate('systemConfig:\n  packages:\n  hostname: h\n', FILE, VARS);
    expect(template.systemConfig).toEqual({ hostname: 'h' });
  });
});

describe('loadTemplate', () => {
  it('reads a file and names it in errors', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'a.yml');
    await writeFile(file, 'image:\n  name: [x]\n');
    await expect(loadTemplate(file, VARS)).rejects.toThrow(`${file}:2: image.name must be a string`);
  });

  it('refuses a missing file with a UserError naming it', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'missing.yml');
    const err = await loadTemplate(file, VARS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(`cannot read image template ${file}: ENOENT`);
  });
});

describe('the template types', () => {
  it('are made from the schema the loader walks: each key of the schema is a field of its kind, and no other key is', () => {
    // Checked by tsc (npm run lint): these lines stop compiling when schema and types disagree.
    expectTypeOf<NonNullable<ImageTemplate['systemConfig']>['installer']>().toEqualTypeOf<{ mode?: string; target?: string } | undefined>();
    expectTypeOf<NonNullable<ImageTemplate['disk']>['partitions']>().toEqualTypeOf<PartitionTemplate[] | undefined>();
    expectTypeOf<keyof NonNullable<ImageTemplate['target']>>().toEqualTypeOf<'os' | 'dist' | 'arch' | 'imageType'>();
    expectTypeOf<keyof ImageTemplate>().toEqualTypeOf<keyof typeof TEMPLATE_SHAPE>();
    // And at run time, loading gives exactly the schema's keys.
    const keys = Object.keys(TEMPLATE_SHAPE).sort();
    expect(keys).toEqual(['baseline', 'disk', 'extends', 'image', 'metadata', 'overlayPolicy', 'packageRepositories', 'systemConfig', 'target']);
  });
});
