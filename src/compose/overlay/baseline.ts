// An overlay's root filesystem: the baseline image (checked against the SHA256
// the lock pins) copied into the build directory as raw, its root filesystem
// read through fuse2fs, read-only, inside the build container (no loop device,
// no mount on the host) and copied out with owners, modes, times and extended
// attributes, its ESP copied out with mtools; then the packages the lock adds
// are installed with apt and the dpkg database checked against baseline + lock.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { type BaselineLayout, convertToRaw, readBaselineLayout } from '../../baseline/layout.js';
import { baselineDigest, checkBaselineFile } from '../../baseline/source.js';
import { type Runner, statIn } from '../../docker/runner.js';
import { StepError, UserError } from '../../errors.js';
import { run } from '../../exec.js';
import { imagePackagesOf } from '../../lock/file.js';
import type { LockFile } from '../../lock/types.js';
import type { Emit } from '../../log/events.js';
import type { BaselineFormat } from '../../template/overlay/spec.js';
import { escapeInline } from '../../text/untrusted.js';
import { baselineCacheName } from '../../layout/paths.js';
import { checkInstalled, installPackages, lockEpoch } from '../rootfs/install.js';
import { makeLocalRepo } from '../rootfs/local-repo.js';
import { mountsUnder } from '../rootfs/mounts.js';
import { inodeGroups, inodesOf, linkedPaths, relink } from './links.js';
import { fatBitsOf } from './plan.js';

export interface PreparedBaseline {
  /** The raw copy in the build directory. */
  raw: string;
  layout: BaselineLayout;
  espFatBits: 12 | 16 | 32;
}

/** Check the baseline against the lock, copy it as raw into the build directory and read its layout (on this machine). */
export async function prepareBaseline(lock: LockFile, target: string, dirs: { buildDir: string; pkgDir: string }, emit: Emit): Promise<PreparedBaseline> {
  const b = lock.baseline;
  if (!b) throw new StepError('prepareBaseline called for a lock without a baseline');
  // A baseline named by URL was fetched into the package cache by the cache step, verified against the lock.
  const file = 'path' in b.source ? b.source.path : path.join(dirs.pkgDir, baselineCacheName(b.sha256, b.format));
  const buildDir = dirs.buildDir;
  const format = b.format as BaselineFormat;
  await checkBaselineFile(file, format);
  const raw = path.join(buildDir, 'baseline.raw');
  // A raw baseline is hashed as copied (the copy is what the build reads); another format before it is converted.
  if (format === 'raw') {
    const r = await run({ command: 'cp', args: ['--sparse=always', '--', file, raw] }, { reject: false });
    if (r.exitCode !== 0) throw new StepError(`cannot copy the baseline ${escapeInline(file)}: ${escapeInline(r.stderr.trim())}`);
  }
  const digest = await baselineDigest(format === 'raw' ? raw : file);
  if (digest.sha256 !== b.sha256 || digest.size !== b.size)
    throw new UserError(
      `the baseline ${escapeInline(file)} changed since the lock was made: its SHA256 is ${digest.sha256} (${digest.size} bytes), the lock pins ${b.sha256} (${b.size} bytes)`,
      `Run: <builder> ${target} lock --update (it reads the baseline's packages again), or restore the baseline.`,
    );
  emit({ type: 'info', message: `baseline ${escapeInline(file)}: sha256 ${b.sha256.slice(0, 12)} as the lock pins it` });
  if (format !== 'raw') await convertToRaw(file, format, raw);
  const size = (await stat(raw)).size;
  const layout = await readBaselineLayout(raw, size, file);
  const bits = fatBitsOf(await readBytes(raw, layout.esp.offset, 512));
  if (!bits) throw new UserError(`the ESP of the baseline ${escapeInline(file)} has no FAT boot sector the overlay can read`);
  return { raw, layout, espFatBits: bits };
}

async function readBytes(file: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, position);
    return buf;
  } finally {
    await fh.close();
  }
}

// $1 raw image, $2 byte offset of the root filesystem, $3 mount point, $4 destination. The mount is read-only and
// undone on every exit; tar keeps numeric owners, modes, times and extended attributes (file capabilities). The
// names of files with more than one link are printed (NUL-separated) for links.ts.
const UNPACK_ROOT = [
  'set -euo pipefail',
  'mkdir -p "$3" "$4"',
  'fuse2fs -o ro,offset="$2" "$1" "$3" >/dev/null',
  'trap \'umount "$3" 2>/dev/null || fusermount3 -u "$3" 2>/dev/null || true\' EXIT',
  'tar -C "$3" --numeric-owner --xattrs --xattrs-include="*" -cf - . | tar -C "$4" --numeric-owner --xattrs --xattrs-include="*" -xpf -',
  'find "$3" -xdev -type f -links +1 -printf "%P\\0"',
].join('\n');

/** Copy the baseline's root filesystem and ESP (as /boot/efi) into `rootfs`, in the build container. */
export async function unpackBaseline(runner: Runner, b: PreparedBaseline, rootfs: string, mnt: string, emit: Emit): Promise<void> {
  if ((await runner.run(['sh', '-c', 'command -v fuse2fs'], { reject: false })).exitCode !== 0)
    throw new UserError(
      "the composer image has no fuse2fs, which reads the baseline's root filesystem",
      "Add fuse2fs to the target's tools in the catalogue (see the latest-overlay target).",
    );
  const r = await runner.run(['bash', '-c', UNPACK_ROOT, 'unpack', b.raw, String(b.layout.root.offset), mnt, rootfs], { reject: false });
  if (r.exitCode !== 0)
    throw new StepError(`cannot copy the baseline's root filesystem out of ${b.raw}: ${escapeInline(r.stderr.trim().split('\n').slice(-3).join(' | '))}`, {
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  const paths = linkedPaths(r.stdout);
  const linked = paths.length > 0 ? await relink(runner, rootfs, inodeGroups(await inodesOf(b.raw, b.layout.root.offset, paths))) : 0;
  if (linked > 0) emit({ type: 'info', message: `baseline: ${linked} hard links made again` });
  const left = await mountsUnder(runner, mnt);
  if (left.length > 0) throw new StepError(`the baseline's root filesystem is still mounted at ${left.join(', ')}`);
  await runner.run(['rmdir', '--', mnt], { reject: false });
  const esp = await espDir(runner, rootfs);
  await runner.run(['mkdir', '-p', esp]);
  const m = await runner.run(['mcopy', '-s', '-p', '-m', '-n', '-Q', '-i', `${b.raw}@@${b.layout.esp.offset}`, '::/*', `${esp}/`], {
    env: { MTOOLS_SKIP_CHECK: '1' },
    reject: false,
  });
  if (m.exitCode !== 0) throw new StepError(`cannot copy the baseline's ESP out of ${b.raw}: ${escapeInline(m.stderr.trim())}`);
  if ((await statIn(runner, path.join(rootfs, 'var/lib/dpkg/status')))?.type !== 'file')
    throw new StepError(`the baseline's root filesystem copied from ${b.raw} has no /var/lib/dpkg/status`);
}

/**
 * Where the ESP's files go in the copied tree: `<rootfs>/boot/efi`, whose
 * folders must be real ones (or absent). The tree is the baseline's: a link
 * there would make mcopy write wherever it points, outside the image.
 */
export async function espDir(runner: Runner, rootfs: string): Promise<string> {
  for (const dir of ['boot', 'boot/efi']) {
    const st = await statIn(runner, path.join(rootfs, dir));
    if (st && st.type !== 'directory')
      throw new UserError(
        `the baseline's /${dir} is ${st.type === 'symlink' ? 'a symbolic link' : 'not a directory'}, so its ESP cannot be copied there`,
        "The overlay copies the ESP's files to /boot/efi of the baseline's root filesystem, which must be a plain directory (or absent).",
      );
  }
  return path.join(rootfs, 'boot/efi');
}

/** Install what the lock adds to the baseline (from the local repository only) and check the whole dpkg database. */
export async function installOverlayPackages(
  runner: Runner,
  o: { lock: LockFile; rootfs: string; buildDir: string; pkgDir: string; emit: Emit },
): Promise<void> {
  const adds = o.lock.image.packages;
  if (adds.length > 0) {
    o.emit({ type: 'info', message: `overlay: installing ${adds.length} packages on the baseline's ${o.lock.baseline?.packages.length ?? 0}` });
    const repo = await makeLocalRepo(runner, { dir: path.join(o.buildDir, 'repo'), pkgDir: o.pkgDir, packages: adds });
    await installPackages(runner, { rootfs: o.rootfs, repo, packages: adds, sourceDateEpoch: lockEpoch(o.lock), emit: o.emit });
  }
  await checkInstalled(runner, o.rootfs, imagePackagesOf(o.lock));
}
