// The initrd example target: `build` of `latest-initrd` from a copy of the
// project's catalogue with a package cache of the test's own. The outputs are
// the whole system as one zstd-compressed newc cpio and its kernel; inspect
// reads the archive; QEMU boots the kernel with the archive as its initramfs
// (no disk, no firmware) to a login prompt; a second build from an empty work
// directory gives the same bytes.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { hashFile } from '../../src/fs/hash.js';
import { CpioReader, listCpio } from '../../src/inspect/cpio.js';
import { buildSourceDate } from '../../src/compose/source-date.js';
import { copyProjectCatalogue, ROOT, runBuilder } from '../support/project.js';
import { bootKernelToLogin } from '../support/qemu.js';

const BOOT_LIMIT_MS = 300_000;

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
});
