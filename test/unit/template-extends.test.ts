// extends: a template's parent chain, loaded root first, folded child over
// parent over the default template with the default's rules, each value keeping
// the file and line it came from; a cycle, a different target, a parent outside
// the folder or behind a symbolic link are refused, naming where.
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findTarget, loadCatalogue } from '../../src/catalogue/load.js';
import { UserError } from '../../src/errors.js';
import { makePlan, type PlanTemplate } from '../../src/packages/plan.js';
import { EXTENDS_DEPTH } from '../../src/template/load.js';
import { originsOf } from '../../src/template/origin.js';
import { loadTargetTemplate } from '../../src/template/target.js';
import { rejectionOf } from '../support/failure.js';
import { useTempDirs } from './tmpdir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/debian-security' };
const tempDir = useTempDirs('g3-template-extends-');
const TARGET = 'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}';

/** A project whose docker/templates/ holds `files`; the target `t` builds `leaf`. */
async function project(files: Record<string, string>, leaf = 'child.yml') {
  const root = await tempDir();
  await cp(path.join(ROOT, 'defaults'), path.join(root, 'defaults'), { recursive: true });
  const dir = path.join(root, 'docker', 'templates');
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  const catalogue = path.join(root, 'docker', 'targets.yml');
  await writeFile(catalogue, `targets:\n  t:\n    template: templates/${leaf}\n`);
  const target = findTarget(await loadCatalogue(catalogue), 't');
  return { root, dir, load: () => loadTargetTemplate({ catalogueFile: catalogue, target, projectRoot: root, vars: VARS }) };
}

const failure = (p: Promise<unknown>) => rejectionOf(p, UserError);

describe('extends', () => {
  it('merges a chain child over parent over the default: packages added without repeats, users by name, files by final, configurations appended, the child disk replacing', async () => {
    const p = await project({
      'base/root.yml': [
        TARGET,
        'image: {name: family, version: "1.0"}',
        'disk: {size: 2GiB, partitionTableType: gpt, partitions: [{id: esp, type: esp, start: 1MiB, end: 129MiB, fsType: fat32, mountPoint: /boot/efi}, {id: root, type: linux-root-amd64, start: 129MiB, end: "0", fsType: ext4, mountPoint: /}]}',
        'systemConfig:',
        '  name: root',
        '  packages: [less, vim]',
        '  users: [{name: ops, groups: [adm]}]',
        '  additionalFiles: [{local: motd, final: /etc/motd}]',
        '  configurations: [{cmd: "echo root"}]',
        '',
      ].join('\n'),
      'base/motd': 'root motd\n',
      'middle.yml': ['extends: base/root.yml', TARGET, 'systemConfig:', '  packages: [vim, curl]', '  configurations: [{cmd: "echo middle"}]', ''].join('\n'),
      'child.yml': [
        'extends: middle.yml',
        TARGET,
        'image: {name: child, version: "2.0"}',
        'disk: {size: 3GiB, partitionTableType: gpt, partitions: [{id: esp, type: esp, start: 1MiB, end: 513MiB, fsType: fat32, mountPoint: /boot/efi}, {id: root, type: linux-root-amd64, start: 513MiB, end: "0", fsType: ext4, mountPoint: /}]}',
        'systemConfig:',
        '  name: child',
        '  packages: [less, htop]',
        '  users: [{name: ops, sudo: true}]',
        '  additionalFiles: [{local: motd2, final: /etc/motd}]',
        '  configurations: [{cmd: "echo child"}]',
        '',
      ].join('\n'),
      motd2: 'child motd\n',
    });
    const t = await p.load();
    expect(t.chain).toEqual([path.join(p.dir, 'base/root.yml'), path.join(p.dir, 'middle.yml'), path.join(p.dir, 'child.yml')]);
    expect(t.user.extends).toBeUndefined();
    expect(t.merged.extends).toBeUndefined();
    expect(t.user.image).toEqual({ name: 'child', version: '2.0' });
    expect(t.user.systemConfig?.packages).toEqual(['less', 'vim', 'curl', 'htop']);
    const merged = t.merged.systemConfig?.packages ?? [];
    expect(merged).toEqual(expect.arrayContaining(['less', 'vim', 'curl', 'htop']));
    expect(merged.indexOf('curl')).toBeLessThan(merged.indexOf('htop'));
    expect(new Set(merged).size).toBe(merged.length);
    expect(t.user.systemConfig?.users).toEqual([{ name: 'ops', groups: ['adm'], sudo: true }]);
    expect(t.user.systemConfig?.additionalFiles).toEqual([{ local: 'motd2', final: '/etc/motd' }]);
    expect(t.user.systemConfig?.configurations?.map((c) => c.cmd)).toEqual(['echo root', 'echo middle', 'echo child']);
    expect(t.merged.disk?.size).toBe('3GiB');
    // Each value says where it was written.
    const origins = originsOf(t.merged);
    expect(origins['systemConfig.packages[' + t.merged.systemConfig?.packages?.indexOf('curl') + ']']).toBe(`${path.join(p.dir, 'middle.yml')}:4`);
    expect(origins['systemConfig.users[0].groups[0]']).toBe(`${path.join(p.dir, 'base/root.yml')}:7`);
    expect(origins['systemConfig.users[0].sudo']).toBe(`${path.join(p.dir, 'child.yml')}:8`);
    expect(origins['disk.size']).toBe(`${path.join(p.dir, 'child.yml')}:4`);
    expect(origins['systemConfig.configurations[0].cmd']).toBe(`${path.join(p.dir, 'base/root.yml')}:9`);
  });

  it("reads a parent's files from the parent's folder", async () => {
    const p = await project({
      'base/root.yml': [TARGET, 'systemConfig:', '  additionalFiles: [{local: motd, final: /etc/motd}]', ''].join('\n'),
      'base/motd': 'hello\n',
      'child.yml': ['extends: base/root.yml', TARGET, ''].join('\n'),
    });
    const t = await p.load();
    expect(originsOf(t.merged)['systemConfig.additionalFiles[0].local']).toBe(`${path.join(p.dir, 'base/root.yml')}:3`);
    expect(t.user.systemConfig?.additionalFiles).toEqual([{ local: 'motd', final: '/etc/motd' }]);
    // Beside the child instead of the parent, it is not found.
    const q = await project({
      'base/root.yml': [TARGET, 'systemConfig:', '  additionalFiles: [{local: motd, final: /etc/motd}]', ''].join('\n'),
      motd: 'hello\n',
      'child.yml': ['extends: base/root.yml', TARGET, ''].join('\n'),
    });
    expect((await failure(q.load())).message).toMatch(
      /base\/root\.yml:3: systemConfig\.additionalFiles\[0\]\.local: motd does not exist \(looked for .*base\/motd\)/,
    );
  });

  it("reads a parent's repository key from the parent's folder", async () => {
    const key = await readFile(path.join(ROOT, 'defaults', 'keyrings', 'debian-archive-keyring.gpg'));
    const parent = [TARGET, 'packageRepositories:', '  - {codename: extra, url: "http://127.0.0.1:9/extra", pkey: extra.gpg}', ''].join('\n');
    const p = await project({ 'base/root.yml': parent, 'child.yml': ['extends: base/root.yml', TARGET, ''].join('\n') });
    await writeFile(path.join(p.dir, 'base', 'extra.gpg'), key);
    const t = await p.load();
    expect(t.merged.packageRepositories?.map((r) => r.codename)).toContain('extra');
    // The package plan (lock, cache, build) reads it from there too.
    const plan = await makePlan(t.merged as PlanTemplate, { providerId: t.providerId, templateFile: t.file, projectRoot: p.root, tools: [], chain: t.chain });
    expect(plan.repos.find((r) => r.codename === 'extra')?.keyrings).toEqual([path.join(p.dir, 'base', 'extra.gpg')]);
    const q = await project({ 'base/root.yml': parent, 'child.yml': ['extends: base/root.yml', TARGET, ''].join('\n') });
    await writeFile(path.join(q.dir, 'extra.gpg'), key);
    expect((await failure(q.load())).message).toMatch(/base\/root\.yml:3: packageRepositories\[0\].*extra\.gpg/);
  });

  it('refuses a cycle, naming the chain', async () => {
    const p = await project({
      'child.yml': ['extends: a.yml', TARGET, ''].join('\n'),
      'a.yml': ['extends: b.yml', TARGET, ''].join('\n'),
      'b.yml': ['extends: a.yml', TARGET, ''].join('\n'),
    });
    const err = await failure(p.load());
    expect(err.message).toMatch(/^extends makes a cycle: .*child\.yml -> .*a\.yml -> .*b\.yml -> .*a\.yml$/);
  });

  it('refuses a template that extends itself', async () => {
    const p = await project({ 'child.yml': ['extends: child.yml', TARGET, ''].join('\n') });
    expect((await failure(p.load())).message).toMatch(/^extends makes a cycle: .*child\.yml -> .*child\.yml$/);
  });

  it('refuses a parent with another target, naming the parent line and both values', async () => {
    const p = await project({
      'child.yml': ['extends: parent.yml', TARGET, ''].join('\n'),
      'parent.yml': ['target: {os: debian, dist: debian13, arch: x86_64, imageType: iso}', ''].join('\n'),
    });
    expect((await failure(p.load())).message).toMatch(/parent\.yml:1: target\.imageType is "iso", but .*child\.yml, which extends it, has "raw"/);
  });

  it.each([
    ['../outside.yml', /extends must name a file inside the template's folder, not "\.\.\/outside\.yml"/],
    ['/etc/passwd.yml', /extends must name a file inside the template's folder/],
    ['parent.txt', /"parent\.txt" is not a \.yml or \.yaml file/],
    ['missing.yml', /missing\.yml does not exist/],
  ])('refuses extends: %s', async (name, problem) => {
    const p = await project({ 'child.yml': [`extends: ${name}`, TARGET, ''].join('\n'), 'parent.txt': `${TARGET}\n` });
    expect((await failure(p.load())).message).toMatch(problem);
  });

  it('refuses a parent reached through a symbolic link, the file or a folder on the way', async () => {
    const p = await project({ 'child.yml': ['extends: link.yml', TARGET, ''].join('\n'), 'real.yml': `${TARGET}\n` });
    await symlink('real.yml', path.join(p.dir, 'link.yml'));
    expect((await failure(p.load())).message).toMatch(/link\.yml is a symbolic link; extends does not follow links/);
    const q = await project({ 'child.yml': ['extends: sub/real.yml', TARGET, ''].join('\n'), 'other/real.yml': `${TARGET}\n` });
    await symlink('other', path.join(q.dir, 'sub'));
    expect((await failure(q.load())).message).toMatch(/sub is a symbolic link/);
  });

  it(`refuses a chain longer than ${EXTENDS_DEPTH} templates`, async () => {
    const files: Record<string, string> = { 'child.yml': ['extends: p0.yml', TARGET, ''].join('\n') };
    for (let i = 0; i <= EXTENDS_DEPTH; i++) files[`p${i}.yml`] = [`extends: p${i + 1}.yml`, TARGET, ''].join('\n');
    files[`p${EXTENDS_DEPTH + 1}.yml`] = `${TARGET}\n`;
    const p = await project(files);
    expect((await failure(p.load())).message).toMatch(new RegExp(`extends chain is longer than ${EXTENDS_DEPTH} templates`));
  });
});
