// systemConfig.kernel.version: checked against the kernel the lock holds (an
// error naming both when it is another one), and used to choose the kernel in
// /boot among several.
import { describe, expect, it } from 'vitest';
import { bootKernelMatches, pickKernel } from '../../src/compose/boot/boot.js';
import { newestKernel } from '../../src/compose/kinds/initrd.js';
import { UserError } from '../../src/errors.js';
import type { LockFile } from '../../src/lock/types.js';
import { checkKernelVersion, kernelVersionMatches } from '../../src/packages/kernel-version.js';

const lockWith = (...pkgs: Array<[string, string]>) => ({ image: { packages: pkgs.map(([name, version]) => ({ name, version })) } }) as unknown as LockFile;

describe('kernel.version', () => {
  it.each([
    ['6.12.74-1', '6.12', true],
    ['6.12.74-1', '6.12.74', true],
    ['6.12.74-1', '6.12.7', false],
    ['6.12.74-1', '6.1', false],
    ['1:6.14.2-1~bpo13+1', '6.14', true],
    ['6.14~rc3-1~exp1', '6.14', true],
  ])('Debian version %s %s %s', (v, wanted, ok) => {
    expect(kernelVersionMatches(v, wanted)).toBe(ok);
  });

  it('passes a lock whose kernel has it, and any lock when none is asked for', () => {
    const lock = lockWith(['linux-image-amd64', '6.12.74-1'], ['linux-image-6.12.74+deb13-amd64', '6.12.74-1']);
    expect(() => checkKernelVersion(lock, '6.12', 't')).not.toThrow();
    expect(() => checkKernelVersion(lock, undefined, 't')).not.toThrow();
  });

  it('refuses a lock with another kernel, naming both, and one with no kernel at all', () => {
    const lock = lockWith(['linux-image-amd64', '6.12.74-1'], ['linux-image-6.12.74+deb13-amd64', '6.12.74-1']);
    const run = (l: LockFile, v: string) => {
      try {
        checkKernelVersion(l, v, 't');
      } catch (err) {
        expect(err).toBeInstanceOf(UserError);
        return (err as Error).message;
      }
      return 'no error';
    };
    // The metapackage's version alone does not count: it is not a kernel.
    expect(run(lock, '6.14')).toBe('systemConfig.kernel.version is 6.14, but the lock of t has linux-image-6.12.74+deb13-amd64 6.12.74-1');
    expect(run(lockWith(['bash', '5.2-1']), '6.12')).toBe('systemConfig.kernel.version is 6.12, but the lock of t has no kernel image package');
  });

  it('chooses the kernel of that version in /boot among several', () => {
    const names = ['vmlinuz-6.12.74+deb13-amd64', 'initrd.img-6.12.74+deb13-amd64', 'vmlinuz-6.14.2+bpo-amd64', 'initrd.img-6.14.2+bpo-amd64'];
    expect(pickKernel(names)).toBe('6.14.2+bpo-amd64');
    expect(pickKernel(names, '6.12')).toBe('6.12.74+deb13-amd64');
    expect(pickKernel(names, '6.13')).toBeUndefined();
    expect(newestKernel(names, '6.12.74')).toBe('6.12.74+deb13-amd64');
    expect(bootKernelMatches('6.12.74+deb13-amd64', '6.12.7')).toBe(false);
  });
});
