// The initrd example target: `build` of `latest-initrd` from a copy of the
// project's catalogue with a package cache of the test's own. The outputs are
// the whole system as one zstd-compressed newc cpio and its kernel; inspect
// reads the archive; QEMU boots the kernel with the archive as its initramfs
// (no disk, no firmware) to a login prompt; a second build from an empty work
// directory gives the same bytes. Then the installer ISO of OS Image
// Composer's layout (systemConfig.initramfs names this template): built after
// its initramfs target, it boots that initrd under BIOS, and its attended
// installer, driven over the serial console, writes the ISO template's disk
// image to an empty disk, which must then hold exactly the image on the medium.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { hashFile } from '../../src/fs/hash.js';
import { CpioReader, listCpio } from '../../src/inspect/cpio.js';
import { buildSourceDate } from '../../src/compose/source-date.js';
import { copyProjectCatalogue, ROOT, runBuilder } from '../support/project.js';
import { bootKernelToLogin } from '../support/qemu.js';
import { bootIso } from '../support/qemu-iso.js';

const BOOT_LIMIT_MS = 300_000;
const INSTALL_LIMIT_MS = 600_000;

interface Built {
  compose: { image: string; manifest: string; imageType: string; artifacts: Array<{ file: string; path: string; type: string; sha256: string }> };
}

describe('the initrd target (imageType img)', () => {
  let dir: string;
  let env: Record<string, string>;
  let built: Built;
  let img: string;
  let kernel: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'g3-initrd-'));
    const catalogue = await copyProjectCatalogue(path.join(dir, 'docker'));
    // Pinned for both builds: the default (the HEAD commit's time) would move if a commit landed between them.
    const { epoch } = await buildSourceDate(ROOT, process.env);
    env = {
      G3_TARGETS: catalogue,
      G3_CACHE_DIR: path.join(dir, 'cache'),
      SHARED_G3_CACHE_PATH: '',
      G3_DOCKER_CLIENT: '/usr/bin/docker',
      SOURCE_DATE_EPOCH: String(epoch),
      // Every run has a work folder of the test's own (validate logs there too); builds name theirs.
      G3_WORK_DIR: path.join(dir, 'work'),
    };
    const r = await runBuilder(['latest-initrd', 'build', '--json'], { ...env, G3_WORK_DIR: path.join(dir, 'work') });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    built = JSON.parse(r.stdout) as Built;
    img = built.compose.artifacts.find((a) => a.type === 'initrd')?.path ?? '';
    kernel = built.compose.artifacts.find((a) => a.type === 'kernel')?.path ?? '';
  }, 900_000);

  afterAll(async () => {
    if (dir) await run({ command: 'rm', args: ['-rf', dir] }, { reject: false });
  });

  it('writes <name>-<version>.img and the kernel beside it, both in the manifest with their SHA256', async () => {
    expect(built.compose.imageType).toBe('img');
    expect(built.compose.artifacts.map((a) => [a.file, a.type])).toEqual([
      ['g3-initrd-1.0.0.img', 'initrd'],
      ['g3-initrd-1.0.0.vmlinuz', 'kernel'],
    ]);
    expect(path.basename(path.dirname(img))).toBe('initrd');
    expect(path.dirname(img)).toMatch(/\/debian-debian13-x86_64\/imagebuild\/initrd$/);
    const manifest = JSON.parse(await readFile(built.compose.manifest, 'utf8')) as { outputs: Array<{ file: string; sha256: string }> };
    for (const a of built.compose.artifacts) {
      expect(manifest.outputs).toContainEqual(expect.objectContaining({ file: a.file, sha256: (await hashFile(a.path)).sha256 }));
    }
    // The kernel starts with a PE/COFF stub ("MZ"), the archive with zstd's magic.
    expect((await readFile(kernel)).subarray(0, 2).toString('latin1')).toBe('MZ');
    expect([...(await readFile(img)).subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
  });

  it('holds the whole system with /init as its init and nothing of /boot, every time at most SOURCE_DATE_EPOCH', async () => {
    const raw = path.join(dir, 'initrd.cpio');
    await run({ command: 'zstd', args: ['-d', '-q', '-f', '-o', raw, '--', img] });
    const members = await listCpio(raw, 'initrd');
    const cpio = new CpioReader(raw, members);
    expect(await cpio.linkTarget('/init')).toBe('sbin/init');
    expect(cpio.member('/usr/lib/systemd/systemd')).toBeDefined();
    expect(cpio.member('/var/lib/dpkg/status')).toBeDefined();
    expect(members.filter((m) => m.name.startsWith('/boot/'))).toEqual([]);
    expect(await cpio.readFile('/etc/hostname')).toBe('g3-initrd\n');
    // Names in byte order, as the build sorts them (cpio moves the links of a hard-linked file to the last of them).
    const names = members.filter((m) => m.nlink === 1 || (m.mode & 0o170000) === 0o040000).map((m) => m.name);
    expect(names.length).toBeGreaterThan(members.length / 2);
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const manifest = JSON.parse(await readFile(built.compose.manifest, 'utf8')) as { sourceDateEpoch: number };
    expect(manifest.sourceDateEpoch).toBeGreaterThan(0);
    expect(members.filter((m) => m.mtime > manifest.sourceDateEpoch)).toEqual([]);
    const listing = await run({ command: 'sh', args: ['-c', 'cpio -itv --quiet < "$1" | head -n 2000', 'sh', raw] });
    expect(listing.stdout.split('\n').length).toBeGreaterThan(1000);
  });

  it('inspect describes the archive: OS, packages, SBOM and what /init runs', async () => {
    const r = await runBuilder(['inspect', img, '--json'], {});
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    const lock = JSON.parse(await readFile(path.join(dir, 'docker', 'latest-initrd.lock.json'), 'utf8')) as { image: { packages: unknown[] } };
    expect(report).toMatchObject({
      format: 'cpio',
      compression: 'zstd',
      os: { id: 'debian', versionId: '13' },
      packages: lock.image.packages.length,
      sbom: { packages: lock.image.packages.length },
      initramfs: { init: 'sbin/init' },
    });
  });

  it(`boots with qemu -kernel -initrd to a login prompt within ${BOOT_LIMIT_MS / 1000} s, and a second build from an empty work directory gives the same bytes`, {
    timeout: 900_000,
  }, async () => {
    const again = async () => {
      const r = await runBuilder(['latest-initrd', 'build', '--json'], { ...env, G3_WORK_DIR: path.join(dir, 'work-again') });
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      return JSON.parse(r.stdout) as Built;
    };
    // Side by side: the boot reads the first build's files, the second build writes elsewhere.
    const [boot, second] = await Promise.all([bootKernelToLogin(kernel, img, 'console=ttyS0', BOOT_LIMIT_MS, 2048), again()]);
    expect(boot.reachedLogin, `no login prompt after ${boot.seconds.toFixed(0)} s; console tail:\n${boot.console.slice(-3000)}`).toBe(true);
    expect(boot.console).toMatch(/g3-initrd login:/);
    expect(second.compose.artifacts.map((a) => [a.file, a.sha256])).toEqual(built.compose.artifacts.map((a) => [a.file, a.sha256]));
  });

  describe('an ISO that boots it (systemConfig.initramfs)', () => {
    let iso: string;
    let isoBuilt: Built & { initramfs?: Built & { target: string } };

    it('validate names the initramfs template; a wrong one is exit 2 naming the problem', async () => {
      const ok = await runBuilder(['latest-iso-installer', 'validate'], env);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stderr).toMatch(/its initramfs template .*templates\/initrd\.yml is valid \(target latest-iso-installer\.initramfs\)/);
      const bad = path.join(dir, 'bad');
      const catalogue = await copyProjectCatalogue(bad);
      const tpl = path.join(bad, 'templates', 'iso-installer.yml');
      const text = await readFile(tpl, 'utf8');
      for (const [to, problem] of [
        ['minimal.yml', /systemConfig\.initramfs\.template: minimal\.yml has imageType raw; the system an ISO boots is an initrd image \(imageType img\)/],
        ['../targets.yml', /systemConfig\.initramfs\.template must be a file inside the template's directory/],
        ['none.yml', /none\.yml does not exist/],
      ] as const) {
        await writeFile(tpl, text.replace('template: initrd.yml', `template: ${to}`));
        const r = await runBuilder(['latest-iso-installer', 'validate'], { ...env, G3_TARGETS: catalogue });
        expect(r.code, `${to}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(problem);
      }
      // One output folder for both builds would let one clear the other's outputs.
      await writeFile(tpl, text.replaceAll('name: installed', 'name: initrd'));
      const same = await runBuilder(['latest-iso-installer', 'validate'], { ...env, G3_TARGETS: catalogue });
      expect(same.code).toBe(2);
      expect(same.stderr).toMatch(/has the ISO template's systemConfig\.name \(initrd\); both builds would use one output folder/);
      // The derived target's name is taken by a target of the catalogue's own.
      await writeFile(tpl, text);
      const cat = await readFile(catalogue, 'utf8');
      await writeFile(catalogue, cat.replace('  bookworm-tools:', '  latest-iso-installer.initramfs:\n    template: templates/initrd.yml\n  bookworm-tools:'));
      const taken = await runBuilder(['latest-iso-installer', 'validate'], { ...env, G3_TARGETS: catalogue });
      expect(taken.code).toBe(2);
      expect(taken.stderr).toMatch(/target latest-iso-installer\.initramfs in .* is reserved: it is the initramfs of target latest-iso-installer/);
    });

    it('builds its initramfs target first, then an ISO that carries that initrd and kernel, the installer and a gzip disk image, and no squashfs', {
      timeout: 900_000,
    }, async () => {
      const r = await runBuilder(['latest-iso-installer', 'build', '--json'], { ...env, G3_WORK_DIR: path.join(dir, 'work') });
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      isoBuilt = JSON.parse(r.stdout) as typeof isoBuilt;
      iso = isoBuilt.compose.image;
      expect(isoBuilt.compose.imageType).toBe('iso');
      expect(path.basename(iso)).toBe('g3-installer-1.0.0.iso');
      expect(isoBuilt.initramfs?.target).toBe('latest-iso-installer.initramfs');
      // Its own lock, beside the catalogue; the same packages as latest-initrd, whose template it is.
      const own = JSON.parse(await readFile(path.join(dir, 'docker', 'latest-iso-installer.initramfs.lock.json'), 'utf8')) as {
        image: { packages: Array<{ name: string; sha256: string }> };
      };
      const initrdLock = JSON.parse(await readFile(path.join(dir, 'docker', 'latest-initrd.lock.json'), 'utf8')) as typeof own;
      expect(own.image.packages.map((p) => p.sha256).sort()).toEqual(initrdLock.image.packages.map((p) => p.sha256).sort());
      const files = await run({ command: 'xorriso', args: ['-indev', iso, '-find', '/', '-type', 'f'] }, { reject: false });
      const listed = files.stdout.split('\n').map((l) => l.replace(/^'|'$/g, ''));
      expect(listed).toEqual(expect.arrayContaining(['/live/vmlinuz', '/live/initrd.img', '/install/g3-installer-1.0.0.raw.gz', '/boot/grub/grub.cfg']));
      expect(listed.filter((f) => f.endsWith('.squashfs'))).toEqual([]);
      // The medium's kernel is the initrd build's; its initramfs is the initrd build's archive with the installer after it.
      const out = path.join(dir, 'medium');
      await run({ command: 'xorriso', args: ['-osirrox', 'on', '-indev', iso, '-extract', '/live', out] });
      const initramfs = isoBuilt.initramfs?.compose.artifacts ?? [];
      expect((await hashFile(path.join(out, 'vmlinuz'))).sha256).toBe(initramfs.find((a) => a.type === 'kernel')?.sha256);
      const initrdOnMedium = await readFile(path.join(out, 'initrd.img'));
      const built = await readFile(initramfs.find((a) => a.type === 'initrd')?.path ?? '');
      expect(initrdOnMedium.subarray(0, built.length).equals(built)).toBe(true);
      const appended = path.join(dir, 'appended.cpio');
      await writeFile(appended, initrdOnMedium.subarray(Math.ceil(built.length / 4) * 4));
      const members = await listCpio(appended, 'appended');
      const cpio = new CpioReader(appended, members);
      expect(await cpio.readFile('/etc/g3-installer.conf')).toMatch(
        /^IMAGE=g3-installer-1\.0\.0\.raw\.gz\nSHA256=[0-9a-f]{64}\nSIZE=1073741824\nTARGET=first-empty-disk\nMEDIUM_LABEL=G3_INSTALLER_1_0_0\n$/,
      );
      expect(await cpio.linkTarget('/etc/systemd/system/multi-user.target.wants/g3-installer.service')).toBe('/etc/systemd/system/g3-installer.service');
    });

    it('boots that initrd from the ISO under BIOS; the attended installer writes the disk chosen on the console, which then holds exactly the image on the medium', {
      timeout: INSTALL_LIMIT_MS + 120_000,
    }, async () => {
      expect(iso, 'the ISO build failed').toBeTruthy();
      const disk = path.join(dir, 'installed.qcow2');
      await run({ command: 'qemu-img', args: ['create', '-q', '-f', 'qcow2', disk, '2G'] });
      const answers = [
        { after: /\(attended install\)/, send: 'a' },
        { after: /number of the disk, or q to skip: /, send: '1\n' },
        { after: /type yes to overwrite \/dev\/vda: /, send: 'yes\n' },
      ];
      const install = await bootIso(iso, { firmware: 'bios', timeoutMs: INSTALL_LIMIT_MS, disk, answers });
      const tail = install.console.slice(-3000);
      expect(install.answered, tail).toBe(answers.length);
      expect(install.console).toMatch(/GNU GRUB/);
      // The initrd's kernel with the ISO template's command line: no root=, no live-boot.
      expect(install.console).toMatch(/Command line: BOOT_IMAGE=\/live\/vmlinuz console=ttyS0 g3\.installer=attended/);
      const done = /g3-install: installed and verified \/dev\/vda \(sha256 ([0-9a-f]{64})\)/.exec(install.console);
      expect(done, tail).not.toBeNull();
      // It powered off after the install, before any login prompt.
      expect(install.reachedLogin, tail).toBe(false);
      // Independently of the installer's own check: the disk's first SIZE bytes are the image on the medium.
      const gz = path.join(dir, 'payload.raw.gz');
      await run({ command: 'xorriso', args: ['-osirrox', 'on', '-indev', iso, '-extract', '/install/g3-installer-1.0.0.raw.gz', gz] });
      const payload = await run({ command: 'sh', args: ['-c', 'gzip -dc -- "$1" | sha256sum', 'sh', gz] });
      const raw = path.join(dir, 'installed.raw');
      await run({ command: 'qemu-img', args: ['convert', '-O', 'raw', disk, raw] });
      const written = await run({ command: 'sh', args: ['-c', 'head -c 1073741824 -- "$1" | sha256sum', 'sh', raw] });
      expect(written.stdout.split(' ')[0]).toBe(done?.[1]);
      expect(payload.stdout.split(' ')[0]).toBe(done?.[1]);
    });

    it('is reproducible: a rebuild gives the same ISO, byte for byte (the initrd, the gzip disk image, the appended archive and xorriso)', {
      timeout: 900_000,
    }, async () => {
      expect(iso, 'the ISO build failed').toBeTruthy();
      const first = await hashFile(iso);
      const r = await runBuilder(['latest-iso-installer', 'build', '--json'], { ...env, G3_WORK_DIR: path.join(dir, 'work') });
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      expect(await hashFile((JSON.parse(r.stdout) as Built).compose.image)).toEqual(first);
    });
  });
});
