// imageType img: the whole configured system as one compressed cpio
// initramfs (`<stem>.img`) and its kernel beside it (`<stem>.vmlinuz`). The
// kernel unpacks the archive into its RAM root filesystem and runs /init,
// which is the image's own init (systemd): no disk, no root= on the command line.
// Reproducible: names sorted (byte order), every time clamped to
// SOURCE_DATE_EPOCH, inode numbers and devices renumbered by cpio
// --reproducible, and zstd, whose output depends only on its input and options.
import path from 'node:path';
import { compareVersions } from '../../deb/version.js';
import { StepError, UserError } from '../../errors.js';
import { hashFile } from '../../fs/hash.js';
import { statIn } from '../../docker/runner.js';
import type { ImageTemplate } from '../../template/types.js';
import { bootKernelMatches, bootListing } from '../boot/boot.js';
import { imageStem } from '../outputs/plan.js';
import { safeOutputName } from './raw.js';
import type { OutputKind } from './types.js';

/** The fstab of a system that lives in RAM: nothing to mount. */
export const INITRD_FSTAB = '# The root filesystem is the initramfs itself: nothing to mount.\n';

/** The newest kernel version with a /boot/vmlinuz-<v> (that is `wanted`, systemConfig.kernel.version, when given). */
export function newestKernel(names: string[], wanted?: string): string | undefined {
  return names
    .filter((n) => n.startsWith('vmlinuz-'))
    .map((n) => n.slice('vmlinuz-'.length))
    .filter((v) => wanted === undefined || wanted === '' || bootKernelMatches(v, wanted))
    .sort(compareVersions)
    .at(-1);
}

/** The output file names: `<stem>.img` and `<stem>.vmlinuz`. */
export function initrdNames(template: ImageTemplate): { image: string; kernel: string } {
  const stem = imageStem(template);
  return { image: safeOutputName(`${stem}.img`), kernel: safeOutputName(`${stem}.vmlinuz`) };
}

// $1 root filesystem, $2 SOURCE_DATE_EPOCH, $3 output. /boot's contents stay out: the kernel is
// beside the archive, and the distribution's own initramfs would only be dead weight in RAM.
const PACK = [
  'set -eu',
  'cd "$1"',
  'find . -newermt "@$2" -exec touch --no-dereference -d "@$2" {} +',
  'find . -path "./boot/*" -prune -o -print0 | LC_ALL=C sort -z | cpio --create --null --format=newc --reproducible --quiet | zstd -10 -T0 -q -c > "$3.part"',
  'mv -f -T -- "$3.part" "$3"',
].join('\n');

export function initrdKind(template: ImageTemplate): OutputKind {
  return {
    fstab: INITRD_FSTAB,
    bootsInitramfs: false,
    async make(c) {
      const boot = path.join(c.rootfs, 'boot');
      const version = newestKernel(await bootListing(c.runner, c.rootfs), template.systemConfig?.kernel?.version);
      if (!version)
        throw new UserError(
          "no kernel in the image's /boot",
          'List a kernel package (linux-image-amd64, or linux-image-arm64 for aarch64) in systemConfig.kernel.packages.',
        );
      const kernelIn = path.join(boot, `vmlinuz-${version}`);
      if ((await statIn(c.runner, kernelIn))?.type !== 'file') throw new StepError(`${kernelIn} is not a regular file`);
      const names = initrdNames(template);
      const kernel = path.join(c.buildDir, names.kernel);
      const image = path.join(c.buildDir, names.image);
      await c.runner.run(['cp', '--', kernelIn, kernel]);
      await c.runner.run(['touch', '--no-dereference', '-d', `@${c.sourceDateEpoch}`, kernel]);
      // The kernel runs /init of the archive; the image's init (systemd) is it.
      const init = path.join(c.rootfs, 'init');
      if (!(await statIn(c.runner, init))) await c.runner.run(['ln', '-s', 'sbin/init', init]);
      c.emit({ type: 'info', message: `initrd: packing the system into ${names.image} (cpio, zstd), kernel ${version} beside it` });
      await c.timed('initrd', () => c.runner.run(['sh', '-c', PACK, 'sh', c.rootfs, String(c.sourceDateEpoch), image]));
      const img = await hashFile(image);
      const vmlinuz = await hashFile(kernel);
      return {
        artifacts: [
          { file: names.image, path: image, type: 'initrd', compression: 'zstd', size: img.size, sha256: img.sha256 },
          { file: names.kernel, path: kernel, type: 'kernel', size: vmlinuz.size, sha256: vmlinuz.sha256 },
        ],
        imageBytes: img.size,
        boot: { provider: 'none', kernelVersion: version, cmdline: (template.systemConfig?.kernel?.cmdline ?? '').trim() },
      };
    },
  };
}
