// Providers and architectures: which os-dist-arch the toolkit builds, the
// Debian and Docker names behind each arch, when a build is foreign to this
// host, and the shipped aarch64 default template (its root type, kernel,
// console and bootloader packages).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Target } from '../../src/catalogue/types.js';
import { foreignArch } from '../../src/commands/build.js';
import { planDisk } from '../../src/compose/disk/plan.js';
import { bootloaderPackages } from '../../src/template/bootloader.js';
import { loadTemplate } from '../../src/template/load.js';
import { debianArch, dockerPlatform, findProvider, hostDebianArch, providerId, supportedProviders } from '../../src/template/provider.js';
import { loadTargetTemplate } from '../../src/template/target.js';
import type { DiskTemplate, ImageTemplate } from '../../src/template/types.js';
import { validateTemplate } from '../../src/template/validate.js';
import { useTempDirs } from './tmpdir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VARS = { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/security' };
const tempDir = useTempDirs('g3-provider-');

const target = (arch: string, dist = 'debian13'): ImageTemplate => ({ target: { os: 'debian', dist, arch, imageType: 'raw' } });

describe('providers', () => {
  it('supports debian13 on aarch64 besides x86_64, and debian12 on x86_64 only', () => {
    expect(supportedProviders()).toEqual(['debian-debian12-x86_64', 'debian-debian13-x86_64', 'debian-debian13-aarch64']);
    expect(findProvider(target('aarch64'))).toEqual({ os: 'debian', dist: 'debian13', arch: 'aarch64', codename: 'trixie' });
    expect(findProvider(target('aarch64', 'debian12'))).toBeUndefined();
    expect(findProvider(target('arm64'))).toBeUndefined();
  });

  it('names the package cache, snapshots and lock of an aarch64 template by its own provider id', () => {
    expect(providerId(target('aarch64'))).toBe('debian-debian13-aarch64');
  });

  it.each([
    ['x86_64', 'amd64', 'linux/amd64'],
    ['aarch64', 'arm64', 'linux/arm64'],
  ])('maps template arch %s to Debian %s and Docker %s', (arch, deb, platform) => {
    expect(debianArch(arch)).toBe(deb);
    expect(dockerPlatform(deb)).toBe(platform);
  });

  it.each([['arm64'], ['amd64'], ['riscv64'], [undefined]])('knows no Debian architecture for template arch %s', (arch) => {
    expect(debianArch(arch)).toBeUndefined();
  });

  it.each([
    ['x64', 'amd64'],
    ['arm64', 'arm64'],
    ['ia32', undefined],
  ])("takes Node's %s for the host's Debian %s", (node, deb) => {
    expect(hostDebianArch(node)).toBe(deb);
  });

  it.each([
    ['arm64', 'amd64', 'arm64'],
    ['amd64', 'amd64', undefined],
    ['arm64', 'arm64', undefined],
    ['amd64', 'i386', 'amd64'],
  ])('treats %s on a %s host as foreign: %s', (deb, host, foreign) => {
    expect(foreignArch(deb, host)).toBe(foreign);
  });

  it('gives aarch64 the arm64 grub modules and systemd-boot', () => {
    expect(bootloaderPackages('aarch64', 'grub')).toEqual(['grub-efi-arm64-bin', 'grub-common']);
    expect(bootloaderPackages('aarch64', 'systemd-boot')).toEqual(['systemd-boot']);
    expect(bootloaderPackages('x86_64', 'grub')).toEqual(['grub-efi-amd64-bin', 'grub-common']);
  });
});

describe('the debian13 aarch64 default template', () => {
  const file = path.join(ROOT, 'defaults', 'templates', 'debian-debian13-aarch64-raw.yml');

  it('validates, boots the arm64 kernel on the PL011 console and has no amd64 package', async () => {
    const { template } = await loadTemplate(file, VARS);
    expect(validateTemplate(template, file).errors).toEqual([]);
    expect(template.target).toEqual({ os: 'debian', dist: 'debian13', arch: 'aarch64', imageType: 'raw' });
    expect(template.systemConfig?.kernel?.packages).toEqual(['linux-image-arm64']);
    expect(template.systemConfig?.kernel?.cmdline).toContain('console=ttyAMA0');
    expect(JSON.stringify(template)).not.toMatch(/amd64|x86/);
  });

  it('gives the root partition the arm64 root type of the Discoverable Partitions Specification', async () => {
    const { template } = await loadTemplate(file, VARS);
    const root = planDisk(template.disk as DiskTemplate, 'seed').partitions.find((p) => p.mountPoint === '/');
    expect(root?.typeGuid).toBe('b921b045-1df0-41c3-af44-4c6f280d3fae');
  });

  it('is what an aarch64 user template is merged over, with the bootloader packages of aarch64', async () => {
    const dir = await tempDir();
    await writeFile(
      path.join(dir, 'a.yml'),
      'image: {name: a, version: "1"}\ntarget: {os: debian, dist: debian13, arch: aarch64, imageType: raw}\nsystemConfig:\n  name: a\n  bootloader: {bootType: efi, provider: grub}\n',
    );
    const t: Target = { name: 'a', artifacts: [], template: { value: 'a.yml', origin: { file: 'targets.yml', line: 3 } } };
    const loaded = await loadTargetTemplate({ catalogueFile: path.join(dir, 'targets.yml'), target: t, projectRoot: ROOT, vars: VARS });
    expect(loaded.providerId).toBe('debian-debian13-aarch64');
    expect(loaded.merged.systemConfig?.packages).toEqual(expect.arrayContaining(['grub-efi-arm64-bin', 'grub-common']));
    expect(loaded.merged.systemConfig?.packages).not.toContain('grub-efi-amd64-bin');
    expect(loaded.merged.systemConfig?.kernel?.packages).toEqual(['linux-image-arm64']);
  });
});
