// The bootloader's packages follow the provider a template ends up with: the
// default templates list none, the merge adds those of the chosen provider.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Target } from '../../src/catalogue/types.js';
import { loadTemplate, parseTemplate } from '../../src/template/load.js';
import { mergeOverDefaults } from '../../src/template/merge.js';
import { locate } from '../../src/template/origin.js';
import { loadTargetTemplate } from '../../src/template/target.js';
import { useTempDirs } from './tmpdir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/security' };
const tempDir = useTempDirs('g3-bootloader-');

/** A user template (YAML text) merged over the shipped default template of debian13. */
async function merged(user: string) {
  const defaults = await loadTemplate(path.join(ROOT, 'defaults/templates/debian-debian13-x86_64-raw.yml'), VARS);
  return mergeOverDefaults(defaults.template, parseTemplate(user, 'user.yml', VARS).template);
}

const HEAD = 'image: {name: t, version: "1"}\ntarget: {os: debian, dist: debian13, arch: x86_64, imageType: raw}\n';

describe('bootloader packages', () => {
  it('gives a template that chooses grub the grub packages and no systemd-boot', async () => {
    const m = await merged(`${HEAD}systemConfig:\n  name: g\n  bootloader: {bootType: efi, provider: grub}\n  packages: [less]\n`);
    const packages = m.systemConfig?.packages ?? [];
    expect(packages).not.toContain('systemd-boot');
    expect(packages).toEqual(['systemd-sysv', 'udev', 'dbus', 'login', 'passwd', 'iproute2', 'grub-efi-amd64-bin', 'grub-common', 'less']);
    // An unresolvable bootloader package points at the line that chose the bootloader.
    expect(locate(packages, 6)).toMatchObject({ file: path.resolve('user.yml'), line: 5, path: 'systemConfig.bootloader.provider' });
  });

  it('gives a template that keeps the default bootloader systemd-boot, where the default list had it', async () => {
    const m = await merged(`${HEAD}systemConfig:\n  name: s\n  packages: [ca-certificates, iproute2, less]\n`);
    expect(m.systemConfig?.packages).toEqual(['systemd-sysv', 'udev', 'dbus', 'login', 'passwd', 'iproute2', 'systemd-boot', 'ca-certificates', 'less']);
  });

  it('adds nothing twice when the template lists the bootloader packages itself', async () => {
    const m = await merged(`${HEAD}systemConfig:\n  name: g\n  bootloader: {provider: grub}\n  packages: [grub-common, grub-efi-amd64-bin]\n`);
    expect(m.systemConfig?.packages?.filter((p) => p.startsWith('grub'))).toEqual(['grub-efi-amd64-bin', 'grub-common']);
  });

  it('leaves the inputs unchanged', async () => {
    const defaults = await loadTemplate(path.join(ROOT, 'defaults/templates/debian-debian13-x86_64-raw.yml'), VARS);
    const user = parseTemplate(`${HEAD}systemConfig: {name: g, bootloader: {provider: grub}}\n`, 'user.yml', VARS).template;
    const before = JSON.stringify([defaults.template, user]);
    mergeOverDefaults(defaults.template, user);
    expect(JSON.stringify([defaults.template, user])).toBe(before);
  });

  it.each(['debian12', 'debian13'])('a grub target on %s loads with the grub packages and without systemd-boot', async (dist) => {
    const dir = await tempDir();
    await writeFile(
      path.join(dir, 'grub.yml'),
      `image: {name: g, version: "1"}\ntarget: {os: debian, dist: ${dist}, arch: x86_64, imageType: raw}\nsystemConfig:\n  name: g\n  bootloader: {bootType: efi, provider: grub}\n`,
    );
    const target: Target = { name: 'grub', artifacts: [], template: { value: 'grub.yml', origin: { file: 'targets.yml', line: 3 } } };
    const t = await loadTargetTemplate({ catalogueFile: path.join(dir, 'targets.yml'), target, projectRoot: ROOT, vars: VARS });
    expect(t.merged.systemConfig?.packages).toEqual(expect.arrayContaining(['grub-efi-amd64-bin', 'grub-common']));
    expect(t.merged.systemConfig?.packages).not.toContain('systemd-boot');
  });
});
