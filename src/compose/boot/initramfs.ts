// Making every kernel's initramfs again in an overlay, whichever tool the
// image has: dracut (dracut.ts), else initramfs-tools' update-initramfs. The
// packages the overlay installs, its pre-initramfs files and its commands may
// all change what goes into it, and the baseline's initramfs knows none of them.
import path from 'node:path';
import { StepError } from '../../errors.js';
import type { Emit } from '../../log/events.js';
import { type Runner, statIn } from '../../docker/runner.js';
import { escapeInline } from '../../text/untrusted.js';
import { inImage, runKeepingTail } from '../configure/io.js';
import { chrootMounts, withMounts } from '../rootfs/mounts.js';
import { type DracutResult, dracutInitramfs } from './dracut.js';

export interface InitramfsResult {
  tool: 'dracut' | 'initramfs-tools';
  /** dracut's kernels and modules, when dracut made it. */
  dracut?: DracutResult;
}

/** update-initramfs for every installed kernel, with the time it stamps fixed. */
export const UPDATE_INITRAMFS = ['update-initramfs', '-u', '-k', 'all'];

/** Make every kernel's initramfs again with the image's own tool; undefined when it has neither. */
export async function regenerateInitramfs(runner: Runner, o: { rootfs: string; sourceDateEpoch: number; emit: Emit }): Promise<InitramfsResult | undefined> {
  const dracut = await dracutInitramfs(runner, o);
  if (dracut) return { tool: 'dracut', dracut };
  if ((await statIn(runner, path.join(o.rootfs, 'usr/sbin/update-initramfs')))?.type !== 'file') {
    o.emit({ type: 'warning', message: 'the image has neither dracut nor initramfs-tools: its initramfs is not made again' });
    return undefined;
  }
  o.emit({ type: 'info', message: 'initramfs: update-initramfs for every kernel' });
  const env = { LC_ALL: 'C.UTF-8', SOURCE_DATE_EPOCH: String(o.sourceDateEpoch) };
  const { result: r, tail } = await withMounts(runner, o.rootfs, chrootMounts([]), () =>
    runKeepingTail(runner, inImage(o.rootfs, UPDATE_INITRAMFS), {
      env,
      each: (line) => o.emit({ type: 'debug', message: `[update-initramfs] ${escapeInline(line)}` }),
    }),
  );
  if (r.exitCode !== 0)
    throw new StepError(`update-initramfs failed (exit ${r.exitCode}): ${escapeInline(tail.at(-1) ?? '')}`, {
      command: inImage(o.rootfs, UPDATE_INITRAMFS),
      exitCode: r.exitCode,
      stderr: tail.map((l) => escapeInline(l)).join('\n'),
    });
  return { tool: 'initramfs-tools' };
}
