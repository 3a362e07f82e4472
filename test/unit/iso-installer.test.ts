// The ISO installer script, run with sh against files that stand in for disks:
// lsblk, blkid, findmnt, udevadm and systemctl are stubs on PATH (what they
// print is set per test); zstd, dd, head and sha256sum are the real tools.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { installerConfig, installerScript } from '../../src/compose/iso/installer.js';
import { useTempDirs } from './tmpdir.js';

const tmp = useTempDirs();
const SIZE = 64 * 1024;

interface Disk {
  name: string;
  size: number;
  /** blkid finds a signature on it. */
  used?: boolean;
}

/** A live system in a folder: the medium with a compressed image, disks as files, stubbed tools; returns how to run the script. */
async function rig(mode: string, disks: Disk[], target = 'first-empty-disk', lostWrites = false, initramfs = false) {
  const dir = await tmp();
  const image = randomBytes(SIZE);
  const medium = path.join(dir, 'medium');
  await mkdir(path.join(medium, 'install'), { recursive: true });
  await writeFile(path.join(dir, 'img.raw'), image);
  // An initramfs medium (systemConfig.initramfs) carries a gzip image, which the script must find by its volume id and mount.
  const imageName = initramfs ? 'img.raw.gz' : 'img.raw.zst';
  if (initramfs) expect(spawnSync('sh', ['-c', 'gzip -n -c "$0" > "$1"', path.join(dir, 'img.raw'), path.join(medium, 'install', imageName)]).status).toBe(0);
  else expect(spawnSync('zstd', ['-q', '-o', path.join(medium, 'install', imageName), path.join(dir, 'img.raw')]).status).toBe(0);
  const dev = path.join(dir, 'dev');
  await mkdir(dev);
  for (const d of disks) await writeFile(path.join(dev, d.name), Buffer.alloc(Math.min(d.size, 4 * SIZE)));
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  const stub = async (name: string, body: string) => {
    await writeFile(path.join(bin, name), `#!/bin/sh\n${body}\n`);
    await chmod(path.join(bin, name), 0o755);
  };
  // The medium is sr0; lsblk lists every disk (sr0 read-only), each without partitions.
  const rows = [...disks.map((d) => `${d.name} disk 0 ${d.size}`), 'sr0 rom 1 600000000'].join('\\n');
  await stub('lsblk', `case "$*" in *PKNAME*) echo ;; *NAME,TYPE,RO,SIZE*) printf '${rows}\\n' ;; *) echo one ;; esac`);
  const used = disks.filter((d) => d.used).map((d) => `*/${d.name}) exit 0 ;;`);
  await stub('blkid', `case "$*" in *LABEL=G3_TEST_1*) echo /dev/sr0; exit 0 ;; esac; case "$2" in ${used.join(' ')} *) exit 2 ;; esac`);
  // mount -o ro DEV DIR: DIR becomes the medium; the call is recorded.
  await stub('mount', `echo "mount $*" >> "${path.join(dir, 'calls')}"; rmdir "$4" && ln -s "${medium}" "$4"`);
  await stub('mountpoint', 'exit 1');
  await stub('modprobe', 'exit 0');
  await stub('findmnt', 'echo /dev/sr0');
  await stub('udevadm', 'exit 0');
  // A disk that loses what is written to it.
  if (lostWrites) await stub('dd', 'cat > /dev/null');
  await stub('systemctl', `echo "systemctl $*" >> "${path.join(dir, 'calls')}"`);
  const conf = path.join(dir, 'g3-installer.conf');
  const sha256 = createHash('sha256').update(image).digest('hex');
  await writeFile(conf, installerConfig({ image: imageName, sha256, size: SIZE, target, ...(initramfs ? { mediumLabel: 'G3_TEST_1' } : {}) }));
  await writeFile(path.join(dir, 'cmdline'), `BOOT_IMAGE=/live/vmlinuz boot=live console=ttyS0 g3.installer=${mode}\n`);
  await writeFile(path.join(dir, 'g3-install'), installerScript());
  const where = initramfs ? { G3_MEDIUM_MOUNT: path.join(dir, 'mnt') } : { G3_MEDIUM: medium };
  const env = { PATH: `${bin}:${process.env.PATH}`, G3_INSTALLER_CONF: conf, ...where, G3_DEV: dev, G3_CMDLINE: path.join(dir, 'cmdline') };
  return {
    image,
    run: (input = '') => spawnSync('sh', [path.join(dir, 'g3-install')], { env, input, encoding: 'utf8' }),
    disk: async (name: string) => (await readFile(path.join(dev, name))).subarray(0, SIZE),
    calls: async () => readFile(path.join(dir, 'calls'), 'utf8').catch(() => ''),
  };
}

describe('the ISO installer script', () => {
  it('unattended: writes the first empty disk large enough (not a used one, not a small one), checks it and powers off', async () => {
    const r = await rig('unattended', [
      { name: 'vda', size: SIZE / 2 },
      { name: 'vdb', size: 2 * SIZE, used: true },
      { name: 'vdc', size: 2 * SIZE },
    ]);
    const out = r.run();
    expect(out.status, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toMatch(/installed and verified .*\/dev\/vdc \(sha256 [0-9a-f]{64}\)/);
    expect(await r.disk('vdc')).toEqual(r.image);
    expect((await r.disk('vdb')).equals(r.image)).toBe(false);
    expect(await r.calls()).toBe('systemctl --no-block poweroff\n');
  });

  it('unattended: installs nothing and leaves the live system running when no disk is empty', async () => {
    const r = await rig('unattended', [{ name: 'vda', size: 2 * SIZE, used: true }]);
    const out = r.run();
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/no empty disk of at least 65536 bytes: nothing installed/);
    expect(await r.calls()).toBe('');
  });

  it('unattended with a device as target: refuses one that is not a writable disk', async () => {
    const r = await rig('unattended', [{ name: 'vda', size: 2 * SIZE }], '/dev/sr0');
    const out = r.run();
    expect(out.status).toBe(1);
    expect(out.stdout).toMatch(/FAILED: \/dev\/sr0 is not a writable disk/);
  });

  it('attended: lists the disks, refuses what is not a number, and writes the chosen one after a typed yes', async () => {
    const r = await rig('attended', [
      { name: 'vda', size: 2 * SIZE, used: true },
      { name: 'vdb', size: 2 * SIZE },
    ]);
    const out = r.run('x;reboot\n9\n1\nno\n2\nyes\n');
    expect(out.status, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toContain('  1) /dev/vda');
    expect(out.stdout).toContain('  2) /dev/vdb');
    expect(out.stdout).toContain('not a number');
    expect(out.stdout).toContain('no disk number 9');
    expect(out.stdout).toMatch(/installed and verified .*\/dev\/vdb/);
    expect(await r.disk('vdb')).toEqual(r.image);
    expect((await r.disk('vda')).equals(r.image)).toBe(false);
  });

  it('attended: q skips without writing anything', async () => {
    const r = await rig('attended', [{ name: 'vda', size: 2 * SIZE }]);
    const out = r.run('q\n');
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('skipped');
    expect((await r.disk('vda')).equals(r.image)).toBe(false);
  });

  it('does nothing when the command line asks for no installer', async () => {
    const r = await rig('off', [{ name: 'vda', size: 2 * SIZE }]);
    expect(r.run().status).toBe(0);
    expect((await r.disk('vda')).equals(r.image)).toBe(false);
  });

  it('on an initramfs medium: finds the medium by its volume id, mounts it read-only, and writes the gzip image', async () => {
    const r = await rig('unattended', [{ name: 'vda', size: 2 * SIZE }], 'first-empty-disk', false, true);
    const out = r.run();
    expect(out.status, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toMatch(/installed and verified .*\/dev\/vda/);
    expect(await r.disk('vda')).toEqual(r.image);
    expect(await r.calls()).toMatch(/^mount -o ro \/dev\/sr0 .*\/mnt\nsystemctl --no-block poweroff\n$/);
  });

  it('fails, and does not power off, when the disk does not read back as the image', async () => {
    const r = await rig('unattended', [{ name: 'vda', size: 2 * SIZE }], 'first-empty-disk', true);
    const out = r.run();
    expect(out.status).toBe(1);
    expect(out.stdout).toMatch(/FAILED: .*\/dev\/vda reads back as SHA256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    expect(await r.calls()).toBe('');
  });
});
