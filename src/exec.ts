// The one place that runs child processes. Arguments are always arrays;
// command lines are echoed in verbose mode with their duration.
import { PassThrough, pipeline } from 'node:stream';
import { execa, execaSync } from 'execa';
import { StepError, UserError } from './errors.js';

export interface Command {
  command: string;
  args: string[];
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Text or bytes written to the child's stdin. */
  input?: string | Uint8Array;
  /** Read the child's stdin from this file instead. */
  inputFile?: string;
  /** The child's stdin is this open file descriptor of ours (a file opened without following links). */
  stdinFd?: number;
  /** Called with a one-line description after the command ends (verbose logging). */
  trace?: (line: string) => void;
  /** Do not throw on a non-zero exit; the caller reads exitCode. */
  reject?: boolean;
  /** The Debian package that provides the command, named when it is missing. */
  package?: string;
  /** Each line of stdout and stderr as it arrives (long steps show progress). */
  onLine?: (line: string) => void;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

let traceAll: ((line: string) => void) | undefined;

/** Echo every command line (verbose mode), unless a call passes its own trace. */
export function setCommandTrace(fn: ((line: string) => void) | undefined): void {
  traceAll = fn;
}

/** A command that could not be started because it is not installed, as a UserError naming its package; else nothing. */
function notInstalled(cmd: Command, result: { code?: string; failed?: boolean; exitCode?: number; message?: string }, pkg?: string): UserError | undefined {
  if (result.code !== 'ENOENT' && !(result.failed && result.exitCode === undefined && /ENOENT/.test(String(result.message)))) return undefined;
  return new UserError(
    `${cmd.command} is not installed`,
    pkg ? `Install the Debian package ${pkg} (apt-get install ${pkg}).` : `Install ${cmd.command} and run again.`,
  );
}

/** The error for a command that exited with `exitCode`, with the last lines it wrote to stderr. */
export function commandFailed(cmd: Command, exitCode: number, stderr: string): StepError {
  return new StepError(`${cmd.command} failed with exit code ${exitCode}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`, {
    command: [cmd.command, ...cmd.args],
    exitCode,
    stderr,
  });
}

async function exec(cmd: Command, opts: RunOptions, binary: boolean) {
  const started = performance.now();
  const child = execa(cmd.command, cmd.args, {
    cwd: opts.cwd,
    env: { LC_ALL: 'C', ...opts.env },
    // Any open descriptor works as stdin (Node passes it on); execa's types only name 3-9.
    ...(opts.stdinFd !== undefined ? { stdin: opts.stdinFd as 3 } : opts.inputFile ? { inputFile: opts.inputFile } : { input: opts.input }),
    reject: false,
    stripFinalNewline: !binary,
    encoding: binary ? 'buffer' : 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (opts.onLine) forwardLines(child, opts.onLine);
  const result = await child;
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  (opts.trace ?? traceAll)?.(`$ ${[cmd.command, ...cmd.args].map(quoteForDisplay).join(' ')}  (${seconds} s, exit ${result.exitCode ?? 'signal'})`);
  const missing = notInstalled(cmd, result as { code?: string }, opts.package);
  if (missing) throw missing;
  const exitCode = result.exitCode ?? 128;
  const stderr = text(result.stderr);
  if (exitCode !== 0 && opts.reject !== false) throw commandFailed(cmd, exitCode, stderr);
  return { exitCode, stdout: result.stdout, stderr };
}

/** Calls `onLine` for each complete, non-blank line of the chunks pushed (one per output stream); `end` passes on the rest. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      const lines = (rest + chunk.toString()).split(/\r?\n|\r/);
      rest = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine(l);
    },
    end() {
      if (rest.trim()) onLine(rest);
      rest = '';
    },
  };
}

/** Call `onLine` for each complete line the child writes to stdout or stderr. */
function forwardLines(child: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null }, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    const lines = lineSplitter(onLine);
    stream?.on('data', (chunk: Buffer | string) => lines.push(chunk));
    stream?.on('end', () => lines.end());
  }
}

/** Run a command with an argument array, never through a shell. */
export async function run(cmd: Command, opts: RunOptions = {}): Promise<RunResult> {
  const r = await exec(cmd, opts, false);
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: r.stderr };
}

/** Like run, but stdout is returned as bytes (decompressors, binary tools). */
export async function runBinary(cmd: Command, opts: RunOptions = {}): Promise<{ exitCode: number; stdout: Buffer; stderr: string }> {
  const r = await exec(cmd, opts, true);
  return { exitCode: r.exitCode, stdout: Buffer.from(r.stdout as unknown as Uint8Array), stderr: r.stderr };
}

/** A running command whose stdout is read as it comes (a decompressor of large input). */
export interface StreamingRun {
  stdout: AsyncIterable<Buffer>;
  /** Settles when the command has exited: its exit code and stderr (a missing command is a UserError). */
  done: Promise<RunResult>;
  /** End the command early (the reader has what it wants, or gave up); `done` is then not worth awaiting. */
  stop(): void;
}

/** A running command that is also written to as it runs (a server speaking a protocol on its stdin and stdout). */
export interface DuplexRun extends StreamingRun {
  stdin: NodeJS.WritableStream;
}

/** Run a command whose stdout is streamed rather than buffered; the caller checks `done` after reading. */
export function runStreaming(cmd: Command, opts: Pick<RunOptions, 'env' | 'inputFile' | 'package' | 'trace'> = {}): StreamingRun {
  return streamed(cmd, opts, opts.inputFile ? { inputFile: opts.inputFile } : {});
}

/** Like runStreaming, with the command's stdin a pipe the caller writes to (and ends). */
export function runDuplex(cmd: Command, opts: Pick<RunOptions, 'env' | 'package' | 'trace'> = {}): DuplexRun {
  const run = streamed(cmd, opts, { stdin: 'pipe' });
  return { ...run, stdin: run.child.stdin as NodeJS.WritableStream };
}

function streamed(
  cmd: Command,
  opts: Pick<RunOptions, 'env' | 'package' | 'trace'>,
  stdin: { inputFile?: string; stdin?: 'pipe' },
): StreamingRun & { child: ReturnType<typeof execa> } {
  const started = performance.now();
  const child = execa(cmd.command, cmd.args, {
    env: { LC_ALL: 'C', ...opts.env },
    ...stdin,
    reject: false,
    buffer: { stdout: false },
    encoding: 'buffer',
    stripFinalNewline: false,
  });
  const done = (async (): Promise<RunResult> => {
    const result = await child;
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    (opts.trace ?? traceAll)?.(
      `$ ${[cmd.command, ...cmd.args].map(quoteForDisplay).join(' ')}  (${seconds} s, exit ${result.exitCode ?? 'signal'}, stdout streamed)`,
    );
    const missing = notInstalled(cmd, result as { code?: string }, opts.package);
    if (missing) throw missing;
    return { exitCode: result.exitCode ?? 128, stdout: '', stderr: text(result.stderr) };
  })();
  // Read into a stream of our own at once: execa drains an output nobody reads yet (so a child never blocks on it),
  // and a reader that starts after an await would find the first bytes gone.
  const stdout = new PassThrough({ highWaterMark: 1024 * 1024 });
  pipeline(child.stdout as NodeJS.ReadableStream, stdout, () => undefined);
  return {
    child,
    stdout,
    done,
    stop: () => {
      child.kill();
      // Stopped on purpose: how it then exits (SIGTERM, EPIPE) is not news.
      done.catch(() => undefined);
    },
  };
}

/** Echo a command line that ran some other way than through this module (a request to a running server), in verbose mode. */
export function traceCommand(line: string): void {
  traceAll?.(line);
}

/** Output execa gave as bytes (a Uint8Array, with encoding 'buffer') or as text, as text. */
function text(v: unknown): string {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8') : String(v ?? '');
}

/** Quote an argument for display only (never executed). */
export function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Run a command synchronously, ignoring failure: for signal handlers that must finish before exit. */
export function runSyncQuietly(cmd: Command): number {
  try {
    return execaSync(cmd.command, cmd.args, { reject: false, stdio: 'ignore', timeout: 30_000 }).exitCode ?? 128;
  } catch {
    return 128;
  }
}
