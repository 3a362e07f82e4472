// Staging a partition's mount point: a failure to read the directory that
// holds it is reported, never taken for "not there".
import { describe, expect, it } from 'vitest';
import { assembleDisk } from '../../src/compose/disk/disk.js';
import { planDisk } from '../../src/compose/disk/plan.js';
import type { Runner, StepOptions } from '../../src/docker/runner.js';
import type { RunResult } from '../../src/exec.js';
import { StepError } from '../../src/errors.js';

const ROOTFS = '/build/rootfs';

/** Every command succeeds; `stat` answers from `stats` (path -> result), else "No such file or directory". */
function runner(stats: Record<string, Partial<RunResult>>): Runner & { calls: string[] } {
  const calls: string[] = [];
  return {
    where: 'fake',
    calls,
    async run(argv: string[], _opts: StepOptions = {}): Promise<RunResult> {
      calls.push(argv.join(' '));
      if (argv[0] === 'stat')
        return { exitCode: 1, stdout: '', stderr: `stat: cannot statx '${argv.at(-1)}': No such file or directory`, ...stats[argv.at(-1) as string] };
      return { exitCode: 0, stdout: '', stderr: '' };
    },
  };
}

const plan = planDisk(
  {
    size: '64MiB',
    partitionTableType: 'gpt',
    partitions: [
      { id: 'esp', type: 'esp', start: '1MiB', end: '34MiB', fsType: 'vfat', mountPoint: '/boot/efi' },
      { id: 'root', start: '34MiB', end: '0', fsType: 'ext4', mountPoint: '/' },
    ],
  },
  'seed',
);

describe('assembleDisk staging', () => {
  it('fails naming the folder that holds a mount point when it cannot be read', async () => {
    const r = runner({
      [`${ROOTFS}/boot/efi`]: { exitCode: 0, stdout: 'directory|1700000000|1700000000.5' },
      [`${ROOTFS}/boot`]: { exitCode: 1, stderr: `stat: cannot statx '${ROOTFS}/boot': Permission denied` },
    });
    const err = await assembleDisk(r, plan, { rootDir: ROOTFS, imagePath: '/build/disk.raw', stagingDir: '/build/staging' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toBe(
      `cannot read ${ROOTFS}/boot (holding the mount point of partition "esp"): stat ${ROOTFS}/boot: stat: cannot statx '${ROOTFS}/boot': Permission denied`,
    );
    expect(r.calls.some((c) => c.startsWith('mv '))).toBe(false);
  });
});
