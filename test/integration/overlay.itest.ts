// Template composition booted in QEMU, beside the arm64 test in the second
// test process (scripts/test.sh): `latest` is built from a copy of the
// project's catalogue, then latest-overlay overlays that image (packages, a
// file, a larger disk; the baseline unchanged, the result reproducible) and
// boots, and latest-dracut boots with grub and an initramfs dracut made with
// a module of the template's own, whose hook must be seen on the console.
import { mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFile } from '../../src/fs/hash.js';
import { run } from '../../src/exec.js';
import { bootToLogin } from '../support/qemu.js';
import { buildEnv, copyProjectCatalogue, ROOT, runBuilder } from '../support/project.js';

const BOOT_LIMIT_MS = 300_000;

describe('overlay and dracut images boot', () => {
  /** The test's folder: the catalogue copy (docker/), the package cache (cache/) and the work folder (work/) every build here shares. */
  let dir: string;
  let catalogue: string;
  let cacheDir: string;
  /** The latest image: the overlay's baseline. */
  let image: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'g3-overlay-'));
    catalogue = await copyProjectCatalogue(path.join(dir, 'docker'));
    cacheDir = path.join(dir, 'cache');
    const r = await runBuilder(['latest', 'build', '--json'], buildEnv(catalogue, cacheDir, path.join(dir, 'work')));
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    image = (JSON.parse(r.stdout) as { compose: { image: string } }).compose.image;
  }, 900_000);

  afterAll(async () => {
    if (dir) await run({ command: 'rm', args: ['-rf', dir] }, { reject: false });
  });

  it('overlays the latest image (latest-overlay): packages and a file added, the disk grown, the baseline unchanged; reproducible, and it boots', {
    timeout: 1_500_000,
  }, async () => {
    const env = buildEnv(catalogue, cacheDir, path.join(dir, 'work'));
    type Built = {
      compose: {
        image: string;
        manifest: string;
        imageBytes: number;
        packages: number;
        overlay?: { baselinePackages: number; installed: number; initramfs?: string };
        sbom: { path: string; packages: number };
      };
    };
    const baselineBefore = await hashFile(image);
    const r = await runBuilder(['latest-overlay', 'build', '--json'], env);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const built = JSON.parse(r.stdout) as Built;
    // The baseline file is read, never written.
    expect(await hashFile(image)).toEqual(baselineBefore);
    const lock = JSON.parse(await readFile(path.join(dir, 'docker', 'latest-overlay.lock.json'), 'utf8')) as {
      baseline: { sha256: string; size: number; packages: Array<{ name: string }> };
      image: { packages: Array<{ name: string }> };
    };
    expect(lock.baseline).toMatchObject({ sha256: baselineBefore.sha256, size: baselineBefore.size });
    const baseLock = JSON.parse(await readFile(path.join(dir, 'docker', 'latest.lock.json'), 'utf8')) as { image: { packages: unknown[] } };
    expect(lock.baseline.packages).toHaveLength(baseLock.image.packages.length);
    // What the baseline has is not installed again; curl and procps (and what they need that it lacks) are.
    const added = lock.image.packages.map((p) => p.name);
    expect(added).toEqual(expect.arrayContaining(['curl', 'procps']));
    expect(added).not.toContain('systemd');
    expect(built.compose.overlay).toEqual({ baselinePackages: lock.baseline.packages.length, installed: added.length, initramfs: 'initramfs-tools' });
    expect(built.compose.packages).toBe(lock.baseline.packages.length + added.length);
    expect(built.compose.sbom.packages).toBe(built.compose.packages);
    const manifest = JSON.parse(await readFile(built.compose.manifest, 'utf8')) as {
      inputs: { baseline?: { sha256: string; file: string; packages: Array<{ name: string }> } };
    };
    expect(manifest.inputs.baseline).toMatchObject({ sha256: baselineBefore.sha256, file: path.basename(image) });
    expect(manifest.inputs.baseline?.packages.map((p) => p.name)).toEqual(lock.baseline.packages.map((p) => p.name));

    // The disk grew to the template's 5 GiB: the baseline's table and identifiers, its last (root) partition longer.
    expect(built.compose.imageBytes).toBe(5 * 1024 ** 3);
    const table = async (file: string) =>
      (
        JSON.parse((await run({ command: 'sfdisk', args: ['--json', file] })).stdout) as {
          partitiontable: { id: string; partitions: Array<{ start: number; size: number; uuid: string; type: string }> };
        }
      ).partitiontable;
    const [was, now] = [await table(image), await table(built.compose.image)];
    expect(now.id).toBe(was.id);
    expect(now.partitions.map((p) => [p.start, p.uuid, p.type])).toEqual(was.partitions.map((p) => [p.start, p.uuid, p.type]));
    expect(now.partitions[0]?.size).toBe(was.partitions[0]?.size);
    expect(now.partitions[1]?.size).toBeGreaterThan((was.partitions[1]?.size ?? 0) + 2 * 1024 * 1024 - 100);
    // The added file and program are in the root filesystem (read without mounting).
    const rootOffset = (now.partitions[1]?.start ?? 0) * 512;
    const debugfs = async (request: string) =>
      (await run({ command: 'debugfs', args: ['-R', request, `${built.compose.image}?offset=${rootOffset}`] }, { env: { DEBUGFS_PAGER: '__none__' } })).stdout;
    // (run() gives output without its last line break.)
    expect(await debugfs('cat /etc/g3-overlay.txt')).toBe(
      (await readFile(path.join(ROOT, 'docker', 'templates', 'overlay', 'g3-overlay.txt'), 'utf8')).trimEnd(),
    );
    expect(await debugfs('stat /usr/bin/curl')).toMatch(/Type: regular/);
    expect(await debugfs('cat /etc/hostname')).toBe('g3-overlay');

    // Built again: the same bytes.
    const first = await hashFile(built.compose.image);
    const again = await runBuilder(['latest-overlay', 'build', '--json', '--rebuild'], env);
    expect(again.code, again.stderr.slice(-3000)).toBe(0);
    expect(await hashFile((JSON.parse(again.stdout) as Built).compose.image)).toEqual(first);

    const boot = await bootToLogin(built.compose.image, BOOT_LIMIT_MS);
    expect(boot.reachedLogin, `no login prompt after ${boot.seconds.toFixed(0)} s; console tail:\n${boot.console.slice(-3000)}`).toBe(true);
    expect(boot.console).toMatch(/g3-overlay login:/);

    // A baseline changed after the lock pinned it is refused, and nothing is built from it.
    const fh = await open(image, 'r+');
    const at = 4096 * 1024;
    const original = Buffer.alloc(2);
    await fh.read(original, 0, 2, at);
    try {
      await fh.write(Buffer.from(original.map((b) => b ^ 0xff)), 0, 2, at);
      const changed = await runBuilder(['latest-overlay', 'build'], env);
      expect(changed.code).toBe(2);
      expect(changed.stderr).toMatch(/the baseline .*g3-minimal-1\.0\.0\.raw changed since the lock was made/);
      expect(changed.stderr).toMatch(/latest-overlay lock --update/);
    } finally {
      await fh.write(original, 0, 2, at);
      await fh.close();
    }
    expect(await hashFile(image)).toEqual(baselineBefore);
  });

  it("boots with grub and a dracut initramfs that has the template's own module (latest-dracut, as OS Image Composer's bb dracut template)", {
    timeout: 1_200_000,
  }, async () => {
    const env = buildEnv(catalogue, cacheDir, path.join(dir, 'work'));
    type Built = {
      compose: { image: string; installed: string; boot?: { provider: string }; dracut?: { kernels: string[]; modules: string[]; ownModules: string[] } };
    };
    const r = await runBuilder(['latest-dracut', 'build', '--json'], env);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const built = JSON.parse(r.stdout) as Built;
    expect(built.compose.boot?.provider).toBe('grub');
    // dracut made the initramfs after configuration: the module the template copied in and asked for is in it.
    expect(built.compose.dracut?.ownModules).toEqual(['91hello']);
    expect(built.compose.dracut?.modules).toEqual(expect.arrayContaining(['hello', 'systemd', 'rootfs-block']));
    expect(built.compose.dracut?.kernels).toHaveLength(1);
    const lock = JSON.parse(await readFile(path.join(dir, 'docker', 'latest-dracut.lock.json'), 'utf8')) as { image: { packages: Array<{ name: string }> } };
    const names = lock.image.packages.map((p) => p.name);
    expect(names).toContain('dracut');
    expect(names).not.toContain('initramfs-tools');
    const boot = await bootToLogin(built.compose.image, BOOT_LIMIT_MS);
    expect(boot.reachedLogin, `no login prompt after ${boot.seconds.toFixed(0)} s; console tail:\n${boot.console.slice(-3000)}`).toBe(true);
    // The module's pre-mount hook ran in the initramfs, before the system's login prompt.
    const hello = boot.console.indexOf("g3-dracut-hello: the template's own dracut module ran");
    expect(hello, boot.console.slice(-3000)).toBeGreaterThan(-1);
    expect(boot.console.indexOf('g3-dracut login:')).toBeGreaterThan(hello);
  });
});
