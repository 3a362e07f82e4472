import { readdirSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findTarget, loadCatalogue } from '../../src/catalogue/load.js';
import type { Target } from '../../src/catalogue/types.js';
import { UserError } from '../../src/errors.js';
import { loadTemplate } from '../../src/template/load.js';
import { additionalFilePath, loadTargetTemplate } from '../../src/template/target.js';
import { validateTemplate } from '../../src/template/validate.js';
import { useTempDirs } from './tmpdir.js';
import { rejectionOf } from '../support/failure.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Every default template the toolkit ships, sorted as the hint lists them.
const SHIPPED = readdirSync(path.join(ROOT, 'defaults/templates'))
  .filter((n) => n.endsWith('.yml'))
  .map((n) => n.slice(0, -4))
  .sort();
const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/debian-security', work_dir: '/work' };
const tempDir = useTempDirs('g3-template-target-');

const USER = ['target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}', 'systemConfig:', '  packages: [vim]', ''].join('\n');

/** A project with the shipped default templates and keyrings and a catalogue in docker/; returns paths. */
async function project(template: string | undefined, templateText = USER): Promise<{ root: string; catalogue: string; target: Target }> {
  const root = await tempDir();
  await cp(path.join(ROOT, 'defaults', 'templates'), path.join(root, 'defaults', 'templates'), { recursive: true });
  await cp(path.join(ROOT, 'defaults', 'keyrings'), path.join(root, 'defaults', 'keyrings'), { recursive: true });
  await mkdir(path.join(root, 'docker', 'templates'), { recursive: true });
  await writeFile(path.join(root, 'docker', 'templates', 'img.yml'), templateText);
  const catalogue = path.join(root, 'docker', 'targets.yml');
  const line = template === undefined ? '' : `    template: ${template}\n`;
  await writeFile(catalogue, `targets:\n  img:\n${line}`);
  // The target as the catalogue loader reads it from that file.
  return { root, catalogue, target: findTarget(await loadCatalogue(catalogue), 'img') };
}

const failure = (p: Promise<unknown>) => rejectionOf(p, UserError);

describe('shipped default templates', () => {
  it.each(SHIPPED)('%s loads and validates cleanly', async (name) => {
    const { template, warnings } = await loadTemplate(path.join(ROOT, 'defaults', 'templates', `${name}.yml`), VARS);
    expect(warnings).toEqual([]);
    expect(validateTemplate(template, name)).toEqual({ errors: [], warnings: [] });
    expect(`${template.target?.os}-${template.target?.dist}-${template.target?.arch}-${template.target?.imageType}`).toBe(name);
    const codenames = template.packageRepositories?.map((r) => r.codename);
    const suite = template.target?.dist === 'debian12' ? 'bookworm' : 'trixie';
    expect(codenames).toEqual([suite, `${suite}-updates`, `${suite}-security`]);
    expect(template.packageRepositories?.map((r) => r.url)).toEqual([VARS.mirror, VARS.mirror, VARS.security_mirror]);
  });
});

describe('loadTargetTemplate', () => {
  it('finds the template relative to the catalogue and merges it over the default of its provider', async () => {
    const p = await project('templates/img.yml');
    const t = await loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS });
    expect(t.file).toBe(path.join(p.root, 'docker', 'templates', 'img.yml'));
    expect(t.providerId).toBe('debian-debian13-x86_64');
    expect(t.user.systemConfig?.packages).toEqual(['vim']);
    expect(t.merged.systemConfig?.packages?.at(-1)).toBe('vim');
    expect(t.merged.systemConfig?.packages?.[0]).toBe(t.defaults.systemConfig?.packages?.[0]);
    expect(t.merged.disk).toEqual(t.defaults.disk);
    expect(t.warnings).toEqual([]);
  });

  it('accepts an absolute template path', async () => {
    const p = await project('templates/img.yml');
    const target: Target = { ...p.target, template: { value: path.join(p.root, 'docker', 'templates', 'img.yml'), origin: { file: p.catalogue, line: 3 } } };
    const t = await loadTargetTemplate({ catalogueFile: p.catalogue, target, projectRoot: p.root, vars: VARS });
    expect(t.providerId).toBe('debian-debian13-x86_64');
  });

  it('refuses a missing template file, naming the target and the path', async () => {
    const p = await project('templates/nope.yml');
    const err = await failure(loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS }));
    expect(err.message).toBe(`template of target img not found: templates/nope.yml (looked for ${path.join(p.root, 'docker', 'templates', 'nope.yml')})`);
  });

  it('refuses a target without a template', async () => {
    const p = await project(undefined);
    const err = await failure(loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS }));
    expect(err.message).toContain('target img in');
    expect(err.message).toContain('has no template');
  });

  it('lists the available defaults when there is none for the target', async () => {
    const p = await project('templates/img.yml', 'target: {os: debian, dist: debian11, arch: x86_64, imageType: raw}\n');
    const err = await failure(loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS }));
    expect(err.message).toMatch(/img\.yml:1: no default template for target debian\/debian11\/x86_64\/raw/);
    expect(err.hint).toBe(`Available os-dist-arch-imageType: ${SHIPPED.join(', ')}.`);
  });

  it('needs the target block to pick the default template', async () => {
    const p = await project('templates/img.yml', 'target:\n  os: debian\n  arch: x86_64\n');
    const err = await failure(loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS }));
    expect(err.message).toMatch(/img\.yml:2: target\.dist is required: it selects the default template$/);
  });

  it('reports every validation problem in one error, each with file and line', async () => {
    const text = [
      USER.trim(),
      '  users:',
      '    - name: Bad',
      '  additionalFiles:',
      '    - {local: missing.conf, final: /etc/m.conf}',
      '    - {local: here.conf, final: /etc/h.conf}',
      '',
    ].join('\n');
    const p = await project('templates/img.yml', text);
    await writeFile(path.join(p.root, 'docker', 'templates', 'here.conf'), 'x');
    const err = await failure(loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS }));
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('image template of target img has 2 problems:');
    expect(lines[1]).toMatch(/img\.yml:5: systemConfig\.users\[0\]\.name "Bad" is not a valid user name/);
    expect(lines[2]).toMatch(/img\.yml:7: systemConfig\.additionalFiles\[0\]\.local: missing\.conf does not exist \(looked for .*missing\.conf\)$/);
    expect(lines).toHaveLength(3);
  });

  it('returns warnings and resolves additional files beside the template that names them', async () => {
    const text = [USER.trim(), '  additionalFiles: [{local: here.conf, final: /etc/h.conf}]', '  initramfs: {template: x.yml}', ''].join('\n');
    const p = await project('templates/img.yml', text);
    await writeFile(path.join(p.root, 'docker', 'templates', 'here.conf'), 'x');
    const t = await loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS });
    expect(t.warnings).toEqual([expect.stringMatching(/img\.yml:5: systemConfig\.initramfs is used only by ISO images; ignored/)]);
    const file = t.merged.systemConfig?.additionalFiles?.[0];
    expect(file && additionalFilePath(file, '/elsewhere')).toBe(path.join(p.root, 'docker', 'templates', 'here.conf'));
  });

  it('refuses a misspelt key with its line and the nearest known key', async () => {
    const p = await project('templates/img.yml', [USER.trim(), '  hostnme: box', ''].join('\n'));
    const err = await failure(loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS }));
    expect(err.message).toMatch(/img\.yml:4: systemConfig\.hostnme is not a template key \(did you mean "hostname"\?\)$/);
  });

  it('refuses a folder named by additionalFiles, as the build does', async () => {
    const p = await project('templates/img.yml', [USER.trim(), '  additionalFiles: [{local: files, final: /etc/files}]', ''].join('\n'));
    await mkdir(path.join(p.root, 'docker', 'templates', 'files'));
    const err = await failure(loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS }));
    expect(err.message).toMatch(/img\.yml:4: systemConfig\.additionalFiles\[0\]\.local: files is not a regular file but a directory/);
  });

  it.each([
    [
      'a key beside the template that is missing',
      'missing.gpg',
      /img\.yml:7: packageRepositories\[0\]: pkey missing\.gpg not found \(looked in .*missing\.gpg, .*defaults\/keyrings\/missing\.gpg\)$/,
    ],
    [
      'a key outside the template folder',
      '../../../../../../etc/passwd',
      /img\.yml:7: packageRepositories\[0\]: pkey \.\.\/.*etc\/passwd resolves to \/etc\/passwd, outside .*docker\/templates or .*defaults\/keyrings/,
    ],
    ['an absolute key outside both folders', '/etc/passwd', /img\.yml:7: packageRepositories\[0\]: pkey \/etc\/passwd resolves to \/etc\/passwd, outside/],
  ])('refuses %s at validation, with file, line and field', async (_what, pkey, message) => {
    const repo = ['packageRepositories:', '  - codename: extra', '    url: http://127.0.0.1:9/extra', `    pkey: "${pkey}"`];
    const p = await project('templates/img.yml', [USER.trim(), ...repo, ''].join('\n'));
    const err = await failure(loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS }));
    expect(err.message.split('\n')).toContainEqual(expect.stringMatching(message));
  });

  it("accepts a key beside the template and one of the toolkit's keyrings", async () => {
    const repo = [
      'packageRepositories:',
      '  - {codename: a, url: "http://127.0.0.1:9/a", pkey: keys/a.gpg}',
      '  - {codename: b, url: "http://127.0.0.1:9/b", pkey: debian-archive-keyring.gpg}',
    ];
    const p = await project('templates/img.yml', [USER.trim(), ...repo, ''].join('\n'));
    await mkdir(path.join(p.root, 'docker', 'templates', 'keys'));
    await writeFile(path.join(p.root, 'docker', 'templates', 'keys', 'a.gpg'), 'k');
    const t = await loadTargetTemplate({ catalogueFile: p.catalogue, target: p.target, projectRoot: p.root, vars: VARS });
    expect(t.merged.packageRepositories?.map((r) => r.pkey)).toEqual(expect.arrayContaining(['keys/a.gpg', 'debian-archive-keyring.gpg']));
  });
});

describe("the project's own catalogue", () => {
  it('has templates that all load, merge and validate without problems, the extends example among them', async () => {
    const file = path.join(ROOT, 'docker', 'targets.yml');
    const cat = await loadCatalogue(file, VARS);
    const withTemplates = [...cat.targets.values()].filter((t) => t.template !== undefined);
    expect(withTemplates.map((t) => t.name)).toEqual(
      expect.arrayContaining(['latest', 'latest-tools', 'latest-initrd', 'latest-iso', 'latest-iso-installer', 'latest-arm64']),
    );
    for (const target of withTemplates) {
      const t = await loadTargetTemplate({ catalogueFile: file, target, projectRoot: ROOT, vars: VARS });
      expect(t.warnings, target.name).toEqual([]);
      if (target.name === 'latest-tools') {
        expect(t.chain.map((f) => path.basename(f))).toEqual(['minimal.yml', 'tools.yml']);
        expect(t.merged.systemConfig?.packages).toEqual(expect.arrayContaining(['ca-certificates', 'iproute2', 'less', 'curl', 'procps']));
        expect(t.merged.systemConfig?.hostname).toBe('g3-tools');
      }
    }
  });
});
