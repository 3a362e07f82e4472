// Reading and writing inside the image. Every step runs through
// `chroot <rootfs>` so that symlinks in the image (an `/etc` that points
// elsewhere, a file replaced by a link) resolve inside the image and can never
// make us write on the machine that runs the build.
import type { Runner } from '../../docker/runner.js';
import type { RunResult } from '../../exec.js';

/** What configuration steps report: progress, choices made, things the user should know. */
export interface ConfigureEvent {
  type: 'info' | 'warning' | 'debug';
  message: string;
}

export type Emit = (e: ConfigureEvent) => void;

// The path and mode arrive as positional parameters ($1, $2), never spliced into
// the script, so no file name can change what the shell runs.
const WRITE_SCRIPT = 'umask 022; mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && chmod "$2" "$1"';

/** The argument array for running `argv` inside the image. */
export function inImage(rootfs: string, argv: string[]): string[] {
  return ['chroot', rootfs, ...argv];
}

/** Write `bytes` to the absolute `file` in the image with the octal `mode` ("0644"), creating parent directories. */
export async function writeInImage(runner: Runner, rootfs: string, file: string, bytes: string | Uint8Array, mode: string): Promise<void> {
  await runner.run(inImage(rootfs, ['/bin/sh', '-c', WRITE_SCRIPT, 'sh', file, mode]), { input: bytes });
}

/** Whether `file` exists in the image (`test -e`, or `test -d` for a directory). */
export async function existsInImage(runner: Runner, rootfs: string, file: string, kind: 'any' | 'dir' = 'any'): Promise<boolean> {
  const r = await runner.run(inImage(rootfs, ['test', kind === 'dir' ? '-d' : '-e', file]), { reject: false });
  return r.exitCode === 0;
}

/**
 * Run `argv` without throwing on failure, each output line to `each`, and keep
 * the last `keep` lines for an error message (from the whole output when the
 * runner could not stream it).
 */
export async function runKeepingTail(
  runner: Runner,
  argv: string[],
  o: { each: (line: string) => void; env?: Record<string, string>; keep?: number },
): Promise<{ result: RunResult; tail: string[] }> {
  const keep = o.keep ?? 20;
  const tail: string[] = [];
  const result = await runner.run(argv, {
    env: o.env,
    reject: false,
    onLine: (line) => {
      tail.push(line);
      if (tail.length > keep) tail.shift();
      o.each(line);
    },
  });
  if (tail.length > 0) return { result, tail };
  return {
    result,
    tail: `${result.stdout}\n${result.stderr}`
      .split('\n')
      .filter((l) => l.trim())
      .slice(-keep),
  };
}
