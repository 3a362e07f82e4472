// What a template and a catalogue may name, with real symbolic links in temp
// folders and the real CLI: host files stay in the template's folder (checked
// by `validate` and again, with the same functions, by the build), and bad
// catalogue input is refused where it enters, with exit code 2.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareFiles } from '../../src/compose/configure/files.js';
import { UserError } from '../../src/errors.js';
import { resolveKeyring } from '../../src/provider/debian.js';
import { copyProjectCatalogue, ROOT, runBuilder } from '../support/project.js';

let dir: string;
let env: Record<string, string>;
const templates = () => path.join(dir, 'templates');

/** The user template: line 1-3 fixed, then `systemConfig` lines (line 4 on) and anything after. */
function template(...lines: string[]): string {
  return ['image: {name: img, version: "1"}', 'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}', 'systemConfig:', ...lines, ''].join('\n');
}

async function writeTemplate(text: string): Promise<void> {
  await writeFile(path.join(templates(), 'img.yml'), text);
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'g3-tplin-'));
  await mkdir(templates());
  await writeFile(path.join(dir, 'targets.yml'), 'targets:\n  img:\n    template: templates/img.yml\n');
  env = {
    G3_TARGETS: path.join(dir, 'targets.yml'),
    G3_MIRROR: 'http://127.0.0.1:9/debian',
    G3_SECURITY_MIRROR: 'http://127.0.0.1:9/debian-security',
    G3_WORK_DIR: path.join(dir, 'work'),
    G3_CACHE_DIR: path.join(dir, 'cache'),
    G3_LOCAL_CACHE: path.join(dir, 'g3-cache'),
    G3_LOG_FILE: 'none',
  };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run `validate` on the img target; returns exit code and stderr. */
async function validate(): Promise<{ code: number | null; stderr: string }> {
  const r = await runBuilder(['img', 'validate'], env);
  return { code: r.code, stderr: r.stderr };
}

describe('validate keeps a template inside its folder', () => {
  it('refuses an additional file that is a symbolic link to a host file', async () => {
    await mkdir(path.join(templates(), 'files'));
    await symlink('/etc/shadow', path.join(templates(), 'files', 'shadow'));
    await writeTemplate(template('  additionalFiles:', '    - {local: files/shadow, final: /etc/motd}'));
    const r = await validate();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/img\.yml:5: systemConfig\.additionalFiles\[0\]\.local: files\/shadow resolves to \/etc\/shadow, outside .*templates/);
    expect(r.stderr).not.toContain('internal error');
  });

  it('refuses an additional file reached through a symbolic link to a host folder', async () => {
    await symlink('/etc', path.join(templates(), 'etc'));
    await writeTemplate(template('  additionalFiles:', '    - {local: etc/passwd, final: /etc/motd}'));
    const r = await validate();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/img\.yml:5: systemConfig\.additionalFiles\[0\]\.local: etc\/passwd resolves to \/etc\/passwd, outside/);
  });

  it('accepts a symbolic link that stays inside the template folder', async () => {
    await mkdir(path.join(templates(), 'files'));
    await writeFile(path.join(templates(), 'files', 'motd'), 'hello\n');
    await symlink('files/motd', path.join(templates(), 'motd-link'));
    await writeTemplate(template('  additionalFiles:', '    - {local: motd-link, final: /etc/motd}'));
    const r = await validate();
    expect(r.stderr).toContain('templates/img.yml is valid (debian-debian13-x86_64)');
    expect(r.code).toBe(0);
  });

  it.each([
    [
      'a relative path out of the folder',
      '../../../../../../etc/passwd',
      /img\.yml:8: packageRepositories\[0\]: pkey \.\.\/.*etc\/passwd resolves to \/etc\/passwd, outside .*templates or .*defaults\/keyrings/,
    ],
    ['an absolute host path', '/etc/passwd', /img\.yml:8: packageRepositories\[0\]: pkey \/etc\/passwd resolves to \/etc\/passwd, outside/],
  ])('refuses a trusted repository key given as %s', async (_what, pkey, message) => {
    await writeTemplate(
      template(
        '  packages: [vim]',
        'packageRepositories:',
        '  - codename: extra',
        '    url: http://127.0.0.1:9/extra',
        `    pkey: "${pkey}"`,
        '    trusted: true',
      ),
    );
    const r = await validate();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a key that is a symbolic link out of the template folder', async () => {
    await symlink(path.join(ROOT, 'package.json'), path.join(templates(), 'key.gpg'));
    await writeTemplate(template('  packages: [vim]', 'packageRepositories:', '  - {codename: extra, url: "http://127.0.0.1:9/extra", pkey: key.gpg}'));
    const r = await validate();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/img\.yml:6: packageRepositories\[0\]: pkey key\.gpg resolves to .*package\.json, outside/);
  });

  it('refuses a final path the build refuses', async () => {
    await writeFile(path.join(templates(), 'x.conf'), 'x\n');
    await writeTemplate(template('  additionalFiles:', '    - {local: x.conf, final: /../../tmp/x}'));
    const r = await validate();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('img.yml:5: systemConfig.additionalFiles[0].final must not contain ".." segments: "/../../tmp/x"');
  });
});

describe('the build checks again with the same functions', () => {
  it('refuses an additional file swapped for a link to a host file after validate passed', async () => {
    await writeFile(path.join(templates(), 'motd'), 'hello\n');
    await writeTemplate(template('  additionalFiles:', '    - {local: motd, final: /etc/motd}'));
    expect((await validate()).code).toBe(0);
    const files = [{ local: 'motd', final: '/etc/motd' }];
    expect((await prepareFiles(files, templates()))[0]?.bytes).toEqual(Buffer.from('hello\n'));
    await rm(path.join(templates(), 'motd'));
    await symlink('/etc/shadow', path.join(templates(), 'motd'));
    const err = await prepareFiles(files, templates()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^systemConfig\.additionalFiles\[0\]\.local: motd resolves to \/etc\/shadow, outside/);
  });

  it('refuses a keyring swapped for a link to a host file', async () => {
    await writeFile(path.join(templates(), 'key.gpg'), 'key');
    expect(await resolveKeyring('key.gpg', templates(), ROOT, 'packageRepositories[0] (extra)')).toBe(path.join(templates(), 'key.gpg'));
    await rm(path.join(templates(), 'key.gpg'));
    await symlink('/etc/shadow', path.join(templates(), 'key.gpg'));
    await expect(resolveKeyring('key.gpg', templates(), ROOT, 'packageRepositories[0] (extra)')).rejects.toThrow(
      /^packageRepositories\[0\] \(extra\): pkey key\.gpg resolves to \/etc\/shadow, outside/,
    );
  });
});

describe('the catalogue refuses bad input where it enters', () => {
  it('refuses a misspelt key instead of caching nothing', async () => {
    await writeFile(path.join(dir, 'targets.yml'), 'targets:\n  img:\n    tempalte: templates/img.yml\n');
    const r = await runBuilder(['img', 'cache'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('targets.yml:3: targets.img.tempalte is not a target key (did you mean "template"?)');
    expect(r.stdout).not.toContain('nothing to cache');
  });

  it.each(['validate', 'push', 'post_push', 'pre_build'])(
    'refuses a 240-character target name on the command line with a clear message (%s)',
    async (command) => {
      const r = await runBuilder(['x'.repeat(240), command], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`target "${'x'.repeat(64)}..." is 240 characters long; a target name has at most 64`);
      expect(r.stderr).not.toContain('internal error');
    },
  );

  it.each([
    ['a reserved section', 'composer-debian-debian13-x86_64', /artifacts\[0\]\.section must not start with "composer-"/],
    ['a section with a bidi override', '"to\\u202eols"', /artifacts\[0\]\.section must not contain .*"to\\u202eols" has U\+202E/],
  ])('refuses %s, printing it escaped', async (_what, section, message) => {
    const sha = 'a'.repeat(64);
    await writeFile(
      path.join(dir, 'targets.yml'),
      `targets:\n  img:\n    artifacts:\n      - section: ${section}\n        file: a.deb\n        url: http://127.0.0.1:9/a.deb\n        sha256: ${sha}\n`,
    );
    const r = await runBuilder(['img', 'cache'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/[\u202a-\u202e]/);
  });
});

describe('extends through the CLI', () => {
  const TARGET = 'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}';

  it('validate --merged --json merges the chain and says for each value which file and line it came from', async () => {
    await mkdir(path.join(templates(), 'base'));
    await writeFile(path.join(templates(), 'base', 'root.yml'), [TARGET, 'systemConfig:', '  packages: [less]', '  hostname: root-host', ''].join('\n'));
    await writeFile(path.join(templates(), 'mid.yml'), ['extends: base/root.yml', TARGET, 'systemConfig:', '  packages: [curl]', ''].join('\n'));
    await writeTemplate(['extends: mid.yml', 'image: {name: img, version: "1"}', TARGET, 'systemConfig:', '  packages: [htop]', ''].join('\n'));
    const r = await runBuilder(['img', 'validate', '--merged', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      chain: string[];
      template: { extends?: string; systemConfig: { packages: string[]; hostname: string } };
      origins: Record<string, string>;
    };
    expect(doc.chain.map((f) => path.relative(templates(), f))).toEqual(['base/root.yml', 'mid.yml', 'img.yml']);
    expect(doc.template.extends).toBeUndefined();
    expect(doc.template.systemConfig.hostname).toBe('root-host');
    const at = (name: string) => doc.origins[`systemConfig.packages[${doc.template.systemConfig.packages.indexOf(name)}]`];
    expect(at('less')).toMatch(/base\/root\.yml:3$/);
    expect(at('curl')).toMatch(/mid\.yml:4$/);
    expect(at('htop')).toMatch(/img\.yml:5$/);
    expect(doc.origins['systemConfig.hostname']).toMatch(/base\/root\.yml:4$/);
    expect(doc.origins['disk.size']).toMatch(/defaults\/templates\/debian-debian13-x86_64-raw\.yml:\d+$/);
    const plain = await runBuilder(['img', 'validate'], env);
    expect(plain.stderr).toMatch(/img: extends chain .*base\/root\.yml <- .*mid\.yml <- .*img\.yml/);
  });

  it.each([
    ['a cycle', { 'a.yml': ['extends: img.yml', TARGET] }, 'extends: a.yml', /extends makes a cycle: .*img\.yml -> .*a\.yml -> .*img\.yml/],
    [
      'a parent of another target',
      { 'a.yml': ['target: {os: debian, dist: debian12, arch: x86_64, imageType: raw}'] },
      'extends: a.yml',
      /a\.yml:1: target\.dist is "debian12", but .*img\.yml, which extends it, has "debian13"/,
    ],
    ['a parent outside the folder', {}, 'extends: ../targets.yml', /extends must name a file inside the template's folder/],
    [
      'an unimplemented key in a parent',
      { 'a.yml': [TARGET, 'systemConfig: {kernel: {uki: true}}'] },
      'extends: a.yml',
      /a\.yml:2: systemConfig\.kernel\.uki is part of OS Image Composer's format but not implemented/,
    ],
  ])('refuses %s with exit 2 naming it', async (_what, parents, line, problem) => {
    for (const [name, lines] of Object.entries(parents)) await writeFile(path.join(templates(), name), [...lines, ''].join('\n'));
    await writeTemplate([line, TARGET, ''].join('\n'));
    const r = await validate();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(problem);
    expect(r.stderr).not.toContain('internal error');
  });
});

describe('systemConfig.kernel.version through the CLI', () => {
  it('is checked against the kernel the lock holds: another version is exit 2 naming both, the locked one passes', async () => {
    const catalogue = await copyProjectCatalogue(path.join(dir, 'project'));
    // The lock the project commits for latest (copyProjectCatalogue leaves locks out).
    await writeFile(path.join(dir, 'project', 'latest.lock.json'), await readFile(path.join(ROOT, 'docker', 'latest.lock.json')));
    const lock = JSON.parse(await readFile(path.join(dir, 'project', 'latest.lock.json'), 'utf8')) as {
      image: { packages: Array<{ name: string; version: string }> };
    };
    const kernel = lock.image.packages.find((p) => /^linux-image-\d/.test(p.name));
    expect(kernel, 'the committed lock has a kernel image package').toBeDefined();
    const upstream = (kernel?.version ?? '').replace(/-[^-]*$/, '');
    const minimal = path.join(dir, 'project', 'templates', 'minimal.yml');
    const text = await readFile(minimal, 'utf8');
    const withVersion = (v: string) => writeFile(minimal, `${text}  kernel:\n    version: "${v}"\n`);
    const check = () => runBuilder(['latest', 'cache', '--check'], { ...env, G3_TARGETS: catalogue });
    await withVersion('6.99');
    const wrong = await check();
    expect(wrong.code, wrong.stderr).toBe(2);
    expect(wrong.stderr).toContain(`systemConfig.kernel.version is 6.99, but the lock of latest has ${kernel?.name} ${kernel?.version}`);
    // The locked kernel's own version (and its major.minor) pass; the check only reports what the cache lacks.
    for (const v of [upstream, upstream.split('.').slice(0, 2).join('.')]) {
      await withVersion(v);
      const ok = await check();
      expect(ok.stderr, v).not.toContain('kernel.version');
      expect([0, 1], ok.stderr).toContain(ok.code);
    }
  });
});
