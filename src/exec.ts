// The one place that runs child processes. Arguments are always arrays;
// command lines are echoed in verbose mode with their duration.
import { execa } from 'execa';
import { StepError } from './errors.js';

export interface Command {
  command: string;
  args: string[];
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  /** Called with a one-line description after the command ends (verbose logging). */
  trace?: (line: string) => void;
  /** Do not throw on a non-zero exit; the caller reads exitCode. */
  reject?: boolean;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Run a command with an argument array, never through a shell. */
export async function run(cmd: Command, opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const result = await execa(cmd.command, cmd.args, {
    cwd: opts.cwd,
    env: { LC_ALL: 'C', ...opts.env },
    input: opts.input,
    reject: false,
    stripFinalNewline: true,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  opts.trace?.(`$ ${[cmd.command, ...cmd.args].map(quoteForDisplay).join(' ')}  (${seconds} s, exit ${result.exitCode ?? 'signal'})`);
  const exitCode = result.exitCode ?? 128;
  if (exitCode !== 0 && opts.reject !== false) {
    throw new StepError(`${cmd.command} failed with exit code ${exitCode}: ${String(result.stderr).trim().split('\n').slice(-3).join(' | ')}`, {
      command: [cmd.command, ...cmd.args],
      exitCode,
      stderr: String(result.stderr),
    });
  }
  return { exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Quote an argument for display only (never executed). */
export function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
