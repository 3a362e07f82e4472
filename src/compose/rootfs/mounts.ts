// Pseudo-filesystems and bind mounts inside a chroot, always undone: every
// mount is recorded as it is made and unmounted in reverse order, also when a
// step between fails. (The build container's namespace is the second line of
// defence: removing it drops whatever is left.)
import path from 'node:path';
import { messageOf, StepError } from '../../errors.js';
import type { Runner } from '../../docker/runner.js';

export interface ChrootMount {
  /** Absolute path inside the chroot, e.g. `/proc`. */
  at: string;
  /** mount(8) arguments before the target, e.g. ['-t', 'proc', 'proc']. */
  args: string[];
}

/** The mounts package maintainer scripts expect, plus the local repository (read-only binds). */
export function chrootMounts(bindReadOnly: string[]): ChrootMount[] {
  return [
    { at: '/proc', args: ['-t', 'proc', 'proc'] },
    { at: '/sys', args: ['-t', 'sysfs', '-o', 'ro', 'sysfs'] },
    { at: '/dev', args: ['--rbind', '/dev'] },
    ...bindReadOnly.map((dir) => ({ at: dir, args: ['--bind', '-o', 'ro', dir] })),
  ];
}

/** Mount each of `mounts` under `root`, run `fn`, then unmount all of them (reverse order). */
export async function withMounts<T>(runner: Runner, root: string, mounts: ChrootMount[], fn: () => Promise<T>): Promise<T> {
  const done: string[] = [];
  // Mount points made for this stage (a bind of a host path creates that path in the image); removed again after.
  const created: string[] = [];
  let result: T;
  try {
    for (const m of mounts) {
      const target = path.join(root, m.at);
      const made = await runner.run(['mkdir', '-p', '-v', target], { env: { LC_ALL: 'C' } });
      created.push(...createdDirs(made.stdout));
      await runner.run(['mount', ...m.args, target]);
      done.push(target);
    }
    result = await fn();
  } catch (err) {
    // The step's own error is the one to report; unmounting still happens, and
    // mounts it could not undo are named too (they outlive the step).
    const stuck = await unmountAll(runner, done.reverse()).then(
      () => undefined,
      (e: unknown) => e,
    );
    await removeDirs(runner, created);
    if (stuck) throw new StepError(`${messageOf(err)}; then unmounting failed: ${messageOf(stuck)}`, { cause: err });
    throw err;
  }
  await unmountAll(runner, done.reverse());
  const left = await mountsUnder(runner, root);
  if (left.length > 0) throw new StepError(`still mounted after the stage: ${left.join(', ')}`);
  await removeDirs(runner, created);
  return result;
}

/** The directories `mkdir -p -v` says it created, in order. */
export function createdDirs(output: string): string[] {
  return output
    .split('\n')
    .map((l) => /^mkdir: created directory '(.*)'$/.exec(l)?.[1])
    .filter((d): d is string => d !== undefined);
}

/** Remove the (empty) directories made for mount points, deepest first; rmdir never removes anything with content. */
async function removeDirs(runner: Runner, dirs: string[]): Promise<void> {
  for (const d of [...dirs].reverse()) await runner.run(['rmdir', '--', d], { reject: false });
}

/** Unmount recursively; a busy mount is detached lazily so nothing stays behind. */
async function unmountAll(runner: Runner, targets: string[]): Promise<void> {
  const failed: string[] = [];
  for (const t of targets) {
    const r = await runner.run(['umount', '-R', t], { reject: false });
    if (r.exitCode === 0) continue;
    const lazy = await runner.run(['umount', '-R', '-l', t], { reject: false });
    if (lazy.exitCode !== 0) failed.push(`${t}: ${r.stderr.trim()}`);
  }
  if (failed.length > 0) throw new StepError(`could not unmount ${failed.join('; ')}`);
}

/** Mount points under `root` still listed in the runner's mount table (tests and checks). */
export async function mountsUnder(runner: Runner, root: string): Promise<string[]> {
  const r = await runner.run(['cat', '/proc/self/mountinfo']);
  const base = root.length > 1 ? root.replace(/\/+$/, '') : root;
  const prefix = `${base}/`;
  return r.stdout
    .split('\n')
    .map((l) => unescapeMountinfo(l.split(' ')[4] ?? ''))
    .filter((p) => p === base || p.startsWith(prefix));
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}
