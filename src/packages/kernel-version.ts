// systemConfig.kernel.version (OS Image Composer's key, e.g. "6.12" or
// "6.12.74"): the kernel the image must boot. The resolver picks packages by
// name, so the version is checked against what the lock holds: a kernel of
// another version is an error naming both, never an image built with it.
import { UserError } from '../errors.js';
import type { LockFile } from '../lock/types.js';

/** A kernel image package (not a metapackage such as linux-image-amd64): linux-image-<version>-<flavour>. */
const KERNEL_IMAGE = /^linux-image-\d/;

/** Whether a Debian package version's upstream part is `wanted` or a release of it ("6.12" matches 6.12.74-1). */
export function kernelVersionMatches(debianVersion: string, wanted: string): boolean {
  const upstream = debianVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
  return upstream === wanted || upstream.startsWith(`${wanted}.`) || upstream.startsWith(`${wanted}+`) || upstream.startsWith(`${wanted}~`);
}

/** The kernel image packages of the lock that have `wanted`; a UserError when there is none. */
export function checkKernelVersion(lock: LockFile, wanted: string | undefined, target: string): void {
  if (wanted === undefined || wanted.trim() === '') return;
  const kernels = lock.image.packages.filter((p) => KERNEL_IMAGE.test(p.name));
  if (kernels.length === 0)
    throw new UserError(
      `systemConfig.kernel.version is ${wanted}, but the lock of ${target} has no kernel image package`,
      'List a kernel package (linux-image-amd64, linux-image-arm64) in systemConfig.kernel.packages.',
    );
  if (kernels.some((k) => kernelVersionMatches(k.version, wanted))) return;
  throw new UserError(
    `systemConfig.kernel.version is ${wanted}, but the lock of ${target} has ${kernels.map((k) => `${k.name} ${k.version}`).join(', ')}`,
    'Change kernel.version to that kernel, or add a repository that has the one asked for (then run lock --update).',
  );
}
