// Timing external commands: each run is prepared (untimed), the page cache's
// dirty data is flushed (untimed), the command is timed wall-clock around the
// child process, and then checked; a failed check aborts the benchmark.
import path from 'node:path';
import { execa } from 'execa';

/** A benchmark that measured a failing (or lying) command: abort. */
export class BenchFailure extends Error {}

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface Command {
  /** Short label for tables. */
  label: string;
  file: string;
  args: string[];
  cwd: string;
  /** Untimed set-up before every run (empty the target directories, snapshot counters). */
  prepare?: () => Promise<void>;
  /** Throws when the run did not do what it should have. */
  check: (run: Run) => Promise<void>;
}

export interface Timing {
  label: string;
  seconds: number[];
  median: number;
  min: number;
  max: number;
}

/** The median (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2;
}

/** Prepare, flush, then time one run of `c`. */
export async function runOnce(c: Command, env: NodeJS.ProcessEnv): Promise<Run> {
  await c.prepare?.();
  // Flush dirty pages left by set-up or by the previous command, so no run pays for another's writes.
  await execa('sync');
  const started = performance.now();
  const r = await execa(c.file, c.args, { cwd: c.cwd, env, extendEnv: false, reject: false, stdin: 'ignore', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  if (r.failed && r.exitCode === undefined) throw new BenchFailure(`${c.label}: could not run ${c.file}: ${r.message}`);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), seconds };
}

/**
 * Run `<tree>/builder.sh args` once, timed as runOnce times a command (after a
 * sync, wall-clock around the child), with `env` over this process's
 * environment. Not checked: the caller reads the exit code and the output.
 */
export async function timedBuilder(tree: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const builder = path.join(tree, 'builder.sh');
  return runOnce({ label: `builder.sh ${args.join(' ')}`, file: builder, args, cwd: tree, check: async () => undefined }, { ...process.env, ...env });
}

/** The JSON a run printed (a `--json` command), once it exited 0; else the benchmark aborts, naming `what`. */
export function jsonOf<T>(r: Run, what: string): T {
  if (r.exitCode !== 0) throw new BenchFailure(`${what} exited ${r.exitCode}: ${tail(r.stderr)}`);
  return JSON.parse(r.stdout) as T;
}

/** Run `<tree>/builder.sh --help` untimed: builder.sh makes its bundle on the first run after a source changed. */
export async function warmBuilder(tree: string): Promise<void> {
  const r = await timedBuilder(tree, ['--help'], {});
  if (r.exitCode !== 0) throw new BenchFailure(`${tree}/builder.sh --help exited ${r.exitCode}: ${tail(r.stderr)}`);
}

/** The end of a long text, for error messages. */
function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Run every command `runs` times, round-robin (so slow drift in the machine
 * affects all of them alike), checking every run; returns timings in order.
 */
export async function measureGroup(commands: readonly Command[], runs: number, env: NodeJS.ProcessEnv, log: (s: string) => void): Promise<Timing[]> {
  const seconds = commands.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, c] of commands.entries()) {
      const r = await runOnce(c, env);
      try {
        await c.check(r);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        const out = [r.stderr && `stderr:\n${tail(r.stderr)}`, r.stdout && `stdout:\n${tail(r.stdout)}`].filter(Boolean).join('\n');
        throw new BenchFailure(`${c.label} (run ${i + 1}, exit ${r.exitCode}): ${msg}${out ? `\n${out}` : ''}`);
      }
      seconds[k]?.push(r.seconds);
      log(`  ${c.label.padEnd(44)} run ${i + 1}/${runs}: ${r.seconds.toFixed(3)} s`);
    }
  }
  return commands.map((c, k) => {
    const s = seconds[k] ?? [];
    return { label: c.label, seconds: s, median: median(s), min: Math.min(...s), max: Math.max(...s) };
  });
}

/** Remove the images a cold build makes (a removed base image gives the composer image new inputs) and Docker's build cache. */
export async function coldDocker(docker: string, images: string[]): Promise<void> {
  await execa(docker, ['rmi', '-f', ...images], { reject: false });
  await execa(docker, ['builder', 'prune', '-af'], { reject: false });
}
