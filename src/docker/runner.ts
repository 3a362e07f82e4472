// Where compose steps run: inside the build container (`docker exec`), or
// directly on this machine (tests, hosts that build without Docker). A step is
// an argument array; nothing goes through a shell unless a step names `sh`.
import { type RunResult, run } from '../exec.js';

export interface StepOptions {
  /** Bytes or text for the command's stdin. */
  input?: string | Uint8Array;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Do not throw on a non-zero exit; the caller reads exitCode. */
  reject?: boolean;
  /** Each line of output as it arrives (progress, build logs). */
  onLine?: (line: string) => void;
}

/** Runs one command where the stages run. */
export interface Runner {
  /** A short name for messages: "container g3c-1a2b" or "host". */
  readonly where: string;
  run(argv: string[], opts?: StepOptions): Promise<RunResult>;
}

/** Runs steps on this machine (tests and the host-side parts of a build). */
export class LocalRunner implements Runner {
  readonly where = 'host';
  async run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    const [command, ...args] = argv;
    if (!command) throw new Error('empty command');
    return run({ command, args }, { input: opts.input, env: opts.env, reject: opts.reject, onLine: opts.onLine });
  }
}

/** What `statIn` reports of a path where the runner runs (symbolic links are not followed). */
export interface RemoteStat {
  type: 'directory' | 'symlink' | 'file' | 'other';
  mtimeNs: bigint;
}

/** lstat(2) where the runner runs: undefined when nothing is there. */
export async function statIn(runner: Runner, p: string): Promise<RemoteStat | undefined> {
  const r = await runner.run(['stat', '--printf', '%F|%Y|%.9Y', '--', p], { reject: false, env: { LC_ALL: 'C' } });
  if (r.exitCode !== 0) {
    if (/No such file or directory|Not a directory/.test(r.stderr)) return undefined;
    throw new Error(`stat ${p}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  }
  const m = /^([^|]+)\|(\d+)\|\d+(?:\.(\d{1,9}))?$/.exec(r.stdout.trim());
  if (!m) throw new Error(`stat ${p}: unexpected output ${JSON.stringify(r.stdout)}`);
  const kind = m[1] ?? '';
  const type = kind === 'directory' ? 'directory' : kind === 'symbolic link' ? 'symlink' : /regular/.test(kind) ? 'file' : 'other';
  return { type, mtimeNs: BigInt(m[2] ?? '0') * 1_000_000_000n + BigInt((m[3] ?? '').padEnd(9, '0')) };
}

/** The names in directory `dir` where the runner runs, sorted. */
export async function listDirIn(runner: Runner, dir: string): Promise<string[]> {
  const r = await runner.run(['find', dir, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\0']);
  return r.stdout
    .split('\0')
    .filter((n) => n !== '')
    .sort();
}

/** The text of a file where the runner runs. */
export async function readFileIn(runner: Runner, file: string): Promise<string> {
  return (await runner.run(['cat', '--', file])).stdout;
}
