// The default target's image boots: `build` of `latest` from a copy of the
// project's own catalogue (so its .g3-cache and lock are the test's, not the
// project's) with a package cache of the test's own, then QEMU with OVMF
// firmware (TCG) must reach a login prompt on the serial console within a
// bound. The ESP is read without mounting (mtools) to show what was installed.
// (Overlays of this image and a dracut image are booted by overlay.itest.ts.)
// Last, the same template plus one package takes the delta route from the
// first build's installed-package snapshot, and gives the image a build of
// that lock from scratch gives.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { hashFile } from '../../src/fs/hash.js';
import { run } from '../../src/exec.js';
import { bootToLogin } from '../support/qemu.js';
import { buildEnv, copyProjectCatalogue, ROOT, runBuilder } from '../support/project.js';

const BOOT_LIMIT_MS = 300_000;
/** A small leaf package of the default template's repositories that the default template lacks. */
const ADDED = 'file';

describe('the default target boots', () => {
  /** The test's folder: the catalogue copy (docker/), the package cache (cache/, shared by every build here) and the first build's work/. */
  let dir: string;
  let catalogue: string;
  let cacheDir: string;
  let image: string;
  let manifest: string;
  /** The id of the image that carries the disk image. */
  let imageId: string;
  let espOffset: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'g3-boot-'));
    catalogue = await copyProjectCatalogue(path.join(dir, 'docker'));
    cacheDir = path.join(dir, 'cache');
    const env = buildEnv(catalogue, cacheDir, path.join(dir, 'work'));
    const r = await runBuilder(['latest', 'build', '--json'], env);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const doc = JSON.parse(r.stdout) as { compose: { image: string; manifest: string }; image: { id: string } };
    ({ image, manifest } = doc.compose);
    imageId = doc.image.id;
    const table = JSON.parse((await run({ command: 'sfdisk', args: ['--json', image] })).stdout) as {
      partitiontable: { partitions: Array<{ start: number; type: string }> };
    };
    const esp = table.partitiontable.partitions.find((p) => p.type === 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
    espOffset = (esp?.start ?? 0) * 512;
  }, 900_000);

  afterAll(async () => {
    if (dir) await run({ command: 'rm', args: ['-rf', dir] }, { reject: false });
  });

  const mtype = async (file: string) =>
    (await run({ command: 'mtype', args: ['-i', `${image}@@${espOffset}`, file] }, { env: { MTOOLS_SKIP_CHECK: '1' } })).stdout;

  it('has systemd-boot, the kernel, the initramfs and the entry with the template command line in the ESP', async () => {
    const listing = (await run({ command: 'mdir', args: ['-/', '-b', '-i', `${image}@@${espOffset}`, '::/'] }, { env: { MTOOLS_SKIP_CHECK: '1' } })).stdout;
    for (const f of ['::/EFI/BOOT/BOOTX64.EFI', '::/g3/vmlinuz', '::/g3/initrd.img', '::/loader/entries/g3.conf', '::/loader/loader.conf'])
      expect(listing).toContain(f);
    const template = await readFile(path.join(ROOT, 'defaults', 'templates', 'debian-debian13-x86_64-raw.yml'), 'utf8');
    const cmdline = /cmdline: "([^"]+)"/.exec(template)?.[1];
    expect(cmdline).toBeTruthy();
    expect(await mtype('::/loader/entries/g3.conf')).toContain(`options ${cmdline}`);
  });

  it('inspect reads the image as built: partitions, OS, packages, SBOM and bootloader (--json), without changing it', async () => {
    const before = await hashFile(image);
    const r = await runBuilder(['inspect', image, '--json'], {});
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      format: string;
      table: string;
      partitions: Array<{ filesystem?: { type?: string } }>;
      os?: { id: string; versionId?: string };
      packages?: number;
      sbom?: { packages: number };
      boot?: { efi: boolean; loader?: string };
    };
    const lock = JSON.parse(await readFile(path.join(dir, 'docker', 'latest.lock.json'), 'utf8')) as { image: { packages: unknown[] } };
    expect(report).toMatchObject({
      format: 'raw',
      table: 'gpt',
      os: { id: 'debian', versionId: '13' },
      packages: lock.image.packages.length,
      sbom: { packages: lock.image.packages.length },
      boot: { efi: true, loader: 'systemd-boot' },
    });
    expect(report.partitions.map((p) => p.filesystem?.type)).toEqual(['vfat', 'ext4']);
    expect(await hashFile(image)).toEqual(before);
  });

  it('is reproducible: a second build from an empty work directory (new chroot, new install) gives the same raw image, SBOM, outputs and image id', {
    timeout: 900_000,
  }, async () => {
    const again = await mkdtemp(path.join(tmpdir(), 'g3-boot-again-'));
    try {
      const env = buildEnv(catalogue, cacheDir, again);
      const r = await runBuilder(['latest', 'build', '--json'], env);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const second = JSON.parse(r.stdout) as { compose: { image: string; snapshot: string; installed: string; manifest: string }; image: { id: string } };
      // The image that carries it too: same layer, same config, same id.
      expect(second.image.id).toBe(imageId);
      expect([second.compose.snapshot, second.compose.installed]).toEqual(['created', 'created']);
      expect(await hashFile(second.compose.image)).toEqual(await hashFile(image));
      const outputs = async (file: string) => (JSON.parse(await readFile(file, 'utf8')) as { outputs: unknown[] }).outputs;
      expect(await outputs(second.compose.manifest)).toEqual(await outputs(manifest));
    } finally {
      await run({ command: 'rm', args: ['-rf', again] }, { reject: false });
    }
  });

  it(`reaches a login prompt on the serial console in QEMU with OVMF within ${BOOT_LIMIT_MS / 1000} s`, { timeout: BOOT_LIMIT_MS + 30_000 }, async () => {
    const boot = await bootToLogin(image, BOOT_LIMIT_MS);
    expect(boot.reachedLogin, `no login prompt after ${boot.seconds.toFixed(0)} s; console tail:\n${boot.console.slice(-3000)}`).toBe(true);
    expect(boot.console).toMatch(/Debian GNU\/Linux 13 g3-minimal ttyS0/);
    expect(boot.console).toMatch(/g3-minimal login:/);
  });

  it(`adds ${ADDED} by the delta route (only the missing packages installed), and the image is bit-identical to a build of that lock from scratch`, {
    timeout: 900_000,
  }, async () => {
    await writeFile(
      path.join(dir, 'docker', 'templates', 'plus.yml'),
      `extends: minimal.yml\ntarget: {os: debian, dist: debian13, arch: x86_64, imageType: raw}\nsystemConfig:\n  name: plus\n  packages: [${ADDED}]\n`,
    );
    const doc = parseYaml(await readFile(catalogue, 'utf8')) as { targets: Record<string, { template?: string; tools?: string[] }> };
    // A copy of the tools list: the same array twice would be written as a YAML alias, which the catalogue refuses.
    doc.targets['latest-plus'] = { template: 'templates/plus.yml', tools: [...(doc.targets.latest?.tools ?? [])] };
    await writeFile(catalogue, stringifyYaml(doc));
    // The first build's SOURCE_DATE_EPOCH for both builds, so a commit made meanwhile cannot tell them apart.
    const epoch = (JSON.parse(await readFile(manifest, 'utf8')) as { sourceDateEpoch: number }).sourceDateEpoch;
    const env = { ...buildEnv(catalogue, cacheDir, path.join(dir, 'work')), SOURCE_DATE_EPOCH: String(epoch) };
    type Built = { compose: { image: string; snapshot: string; installed: string } };
    const delta = await runBuilder(['latest-plus', 'build', '--json'], env);
    expect(delta.code, delta.stderr.slice(-3000)).toBe(0);
    const plus = JSON.parse(delta.stdout) as Built;
    const lockOf = async (target: string) =>
      (
        JSON.parse(await readFile(path.join(dir, 'docker', `${target}.lock.json`), 'utf8')) as {
          image: { packages: Array<{ name: string; version: string; sha256: string }> };
        }
      ).image.packages;
    const had = new Set((await lockOf('latest')).map((p) => `${p.name} ${p.version} ${p.sha256}`));
    const added = (await lockOf('latest-plus')).filter((p) => !had.has(`${p.name} ${p.version} ${p.sha256}`)).map((p) => p.name);
    expect(added).toContain(ADDED);
    // Neither the chroot nor a full apt run: the first build's snapshot plus exactly the lock's new packages.
    expect(plus.compose.snapshot).toBe('not needed');
    expect(plus.compose.installed).toMatch(new RegExp(`^delta from [0-9a-f]{16} \\(\\+${added.length} packages\\)$`));
    // The run log (info lines are not on stderr with --json) names the packages apt added.
    const log = await readFile(path.join(dir, 'work', 'logs', 'g3-composer.log'), 'utf8');
    expect(log).toContain(`installed-package snapshot: ${plus.compose.installed}: ${added.sort().join(', ')}\n`);
    const deltaImage = await hashFile(plus.compose.image);
    // From scratch: without installed-package snapshots, every package is installed on the chroot.
    await rm(path.join(dir, 'work', 'debian-debian13-x86_64', 'chrootbuild', 'installed'), { recursive: true, force: true });
    // --rebuild: the same inputs would otherwise be answered from the delta build's outputs (the output cache).
    const full = await runBuilder(['latest-plus', 'build', '--json', '--rebuild'], env);
    expect(full.code, full.stderr.slice(-3000)).toBe(0);
    const scratch = JSON.parse(full.stdout) as Built;
    expect([scratch.compose.snapshot, scratch.compose.installed]).toEqual(['reused', 'created']);
    expect(await hashFile(scratch.compose.image)).toEqual(deltaImage);
  });
});
