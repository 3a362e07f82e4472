// An append-only run log: one EXECUTING banner when a command starts, the
// diagnostics it printed (timestamped, without colour), and a FINISHED banner
// with its exit code. Many builders may append to the same file at once.
// Every line is made safe first (controls escaped, URL credentials and token
// values redacted), and the file is never reached through a symbolic link.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { quoteForDisplay } from '../exec.js';
import { noFollowFlags } from '../fs/safe.js';
import { escapeInline, forDisplay } from '../text/untrusted.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** True when a line of `level` belongs in a log kept at `threshold`. */
export function admits(threshold: LogLevel, level: LogLevel): boolean {
  return RANK[level] <= RANK[threshold];
}

export interface RunLogOptions {
  file: string;
  level: LogLevel;
  prog: string;
  argv: readonly string[];
  cwd: string;
  /** What the FINISHED banner names, e.g. "latest build". */
  command: string;
  pid?: number;
  /** The clock (tests). */
  now?: () => Date;
}

/** The run log of one command, open for appending. */
export class RunLog {
  readonly level: LogLevel;
  private fd: number | undefined;
  private readonly started: number;
  private readonly now: () => Date;
  private readonly pid: number;
  /** A process.exit() (e.g. on SIGINT) still gets a FINISHED banner with its code. */
  private readonly onExit = (code: number) => this.finish(code, 'the process exited before the command finished');

  constructor(
    fd: number,
    private readonly opts: RunLogOptions,
    private readonly onWriteError: (message: string) => void,
  ) {
    this.fd = fd;
    this.level = opts.level;
    this.now = opts.now ?? (() => new Date());
    this.pid = opts.pid ?? process.pid;
    const start = this.now();
    this.started = start.getTime();
    // One line whatever the arguments hold: newlines and controls are escaped, secrets redacted.
    const argv = [opts.prog, ...opts.argv].map((a) => escapeInline(forDisplay(quoteForDisplay(a)))).join(' ');
    this.append(`==== EXECUTING ${argv} | ${start.toISOString()} | pid ${this.pid} | cwd ${escapeInline(forDisplay(opts.cwd))}\n`);
    process.once('exit', this.onExit);
  }

  /** Append one diagnostic (possibly several physical lines) if the level admits it. */
  line(level: LogLevel, text: string): void {
    if (this.fd === undefined || !admits(this.level, level)) return;
    const stamp = `${this.now().toISOString()} [${this.pid}] `;
    // Our own colours go; whatever else came from outside is escaped and redacted, line by line.
    const body = forDisplay(stripVTControlCharacters(text).replace(/\r/g, '').replace(/\n+$/, ''));
    this.append(
      `${body
        .split('\n')
        .map((l) => stamp + l)
        .join('\n')}\n`,
    );
  }

  /** Write the FINISHED banner and close the file; later calls do nothing. */
  finish(exitCode: number, note?: string): void {
    if (this.fd === undefined) return;
    process.removeListener('exit', this.onExit);
    const now = this.now();
    const seconds = ((now.getTime() - this.started) / 1000).toFixed(1);
    const command = escapeInline(forDisplay(this.opts.command));
    this.append(`==== FINISHED ${command} | exit ${exitCode} | ${seconds} s | ${now.toISOString()}${note ? ` | ${escapeInline(forDisplay(note))}` : ''}\n`);
    this.close();
  }

  // One write per entry on an O_APPEND descriptor: the kernel places each
  // write at the end as a whole, so concurrent builders never split a line.
  private append(text: string): void {
    if (this.fd === undefined) return;
    try {
      const buf = Buffer.from(text);
      let done = 0;
      while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done);
    } catch (err) {
      // A log that stops working (disk full, file system gone) must not stop the build.
      this.close();
      this.onWriteError(`run log ${this.opts.file}: ${(err as Error).message}; logging stopped`);
    }
  }

  private close(): void {
    if (this.fd === undefined) return;
    process.removeListener('exit', this.onExit);
    try {
      closeSync(this.fd);
    } catch {
      // Nothing left to do for a log we cannot close.
    }
    this.fd = undefined;
  }
}

/**
 * Open (creating directories as needed) the run log and write the EXECUTING
 * banner. Returns the reason instead when the file cannot be opened, when its
 * folder is a symbolic link, or when a link (or anything but a regular file)
 * stands at its path: the caller warns once and the command goes on without a
 * log. Nothing is ever appended through a link.
 */
export function openRunLog(opts: RunLogOptions, onWriteError: (message: string) => void): RunLog | string {
  const file = escapeInline(opts.file);
  const without = `going on without it (set G3_LOG_FILE to another file, or to "none")`;
  let fd: number | undefined;
  try {
    const dir = path.dirname(opts.file);
    mkdirSync(dir, { recursive: true });
    if (lstatSync(dir).isSymbolicLink()) return `the run log's folder ${escapeInline(dir)} is a symbolic link: not followed; ${without}`;
    // O_NONBLOCK: a FIFO planted at the path fails at once instead of blocking the command.
    fd = openSync(opts.file, noFollowFlags('a') | constants.O_NONBLOCK, 0o644);
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      return `the run log ${file} is not a regular file; ${without}`;
    }
    return new RunLog(fd, opts, onWriteError);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return `the run log ${file} is a symbolic link: not followed; ${without}`;
    return `cannot open the run log ${file}: ${(err as Error).message}; ${without}`;
  }
}
