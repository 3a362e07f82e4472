import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validate } from '../../src/commands/validate.js';
import { loadSettings, type Settings } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import type { CacheEvent } from '../../src/log/events.js';
import { useTempDirs } from './tmpdir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIRRORS = { G3_MIRROR: 'http://127.0.0.1:9/debian', G3_SECURITY_MIRROR: 'http://127.0.0.1:9/debian-security' };
const tempDir = useTempDirs('g3-validate-');

const USER = ['target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}', 'systemConfig:', '  packages: [vim]', '  fde: {enabled: false}', ''].join(
  '\n',
);

/** A project with the shipped defaults and a catalogue whose target "img" has `targetBody`. */
async function project(targetBody: string, user = USER): Promise<{ root: string; settings: Settings }> {
  const root = await tempDir();
  await cp(path.join(ROOT, 'defaults', 'templates'), path.join(root, 'defaults', 'templates'), { recursive: true });
  await cp(path.join(ROOT, 'defaults', 'keyrings'), path.join(root, 'defaults', 'keyrings'), { recursive: true });
  await mkdir(path.join(root, 'docker', 'templates'), { recursive: true });
  await writeFile(path.join(root, 'docker', 'templates', 'img.yml'), user);
  const catalogue = path.join(root, 'docker', 'targets.yml');
  await writeFile(catalogue, `targets:\n  img:\n${targetBody}`);
  const settings = await loadSettings({ projectRoot: root, env: { G3_TARGETS: catalogue, ...MIRRORS }, flags: {}, cwd: root, aptRoot: root });
  return { root, settings };
}

describe('validate command', () => {
  it.each([
    ['user', false],
    ['merged', true],
  ])('returns the %s template and emits its warnings', async (_name, merged) => {
    const p = await project('    template: templates/img.yml\n');
    const events: CacheEvent[] = [];
    const r = await validate({ settings: p.settings, target: 'img', merged, emit: (e) => events.push(e) });
    expect(r.target).toBe('img');
    expect(r.providerId).toBe('debian-debian13-x86_64');
    expect(r.file).toBe(path.join(p.root, 'docker', 'templates', 'img.yml'));
    expect(r.template.systemConfig?.packages?.includes('vim')).toBe(true);
    // Only the merged template has the default's packages and repositories.
    expect(r.template.systemConfig?.packages?.includes('udev')).toBe(merged);
    expect(r.template.packageRepositories !== undefined).toBe(merged);
    expect(r.warnings).toEqual([expect.stringMatching(/img\.yml:4: systemConfig\.fde has enabled: false; ignored \(not implemented by g3-composer\)$/)]);
    expect(events).toEqual([{ type: 'warning', message: r.warnings[0] }]);
  });

  it('refuses a misspelt key, naming file, line and the nearest key', async () => {
    const p = await project('    template: templates/img.yml\n', USER.replace('packages:', 'pakages:'));
    const err = await validate({ settings: p.settings, target: 'img', merged: false, emit: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/img\.yml:3: systemConfig\.pakages is not a template key \(did you mean "packages"\?\)$/);
  });

  it('refuses a final path that the build would refuse', async () => {
    const p = await project(
      '    template: templates/img.yml\n',
      `${USER}  \n`.replace('  packages: [vim]', '  additionalFiles: [{local: m.conf, final: /../../tmp/x}]'),
    );
    await writeFile(path.join(p.root, 'docker', 'templates', 'm.conf'), 'x');
    const err = await validate({ settings: p.settings, target: 'img', merged: false, emit: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(
      /img\.yml:3: systemConfig\.additionalFiles\[0\]\.final must not contain "\.\." segments: "\/\.\.\/\.\.\/tmp\/x"/,
    );
  });

  it('refuses a target without a template', async () => {
    const p = await project('    description: no template\n');
    const err = await validate({ settings: p.settings, target: 'img', merged: false, emit: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe('target img has no template, so there is nothing to validate');
  });
});
