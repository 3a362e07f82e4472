// Renderers for library events: a TTY status line, plain lines for CI and
// pipes, or nothing but the final JSON document.
import { Chalk } from 'chalk';
import type { Env } from '../env.js';
import type { CacheEvent } from '../log/events.js';
import type { LogLevel } from '../log/runlog.js';
import { escapeControls, forDisplay, redactSecrets } from '../text/untrusted.js';

export type Mode = 'tty' | 'plain' | 'json' | 'quiet';

export interface Output {
  mode: Mode;
  verbose: boolean;
  emit(e: CacheEvent): void;
  /** Diagnostics (stderr). */
  error(line: string): void;
  note(line: string): void;
  /** Results (stdout). */
  result(text: string): void;
  /**
   * Copy every diagnostic line to a log at the log's own level, whatever the
   * terminal shows (--quiet, --json, a TTY status bar): the log reads like a
   * plain run. Results (stdout) are not copied.
   */
  attachLog(log: LogSink): void;
  /** Whether debug lines (external commands and their durations) go anywhere: --verbose or a debug log. */
  wantsDebug(): boolean;
  /** Finish any status line; with an exit code, also finish the attached log. */
  close(exitCode?: number): void;
}

/** Where Output copies its diagnostics (the run log). */
export interface LogSink {
  readonly level: LogLevel;
  line(level: LogLevel, text: string): void;
  finish(exitCode: number): void;
}

export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Which renderer fits the flags, the terminal and the environment. */
export function pickMode(flags: { json?: boolean; quiet?: boolean }, env: Env, stderrIsTTY: boolean): Mode {
  if (flags.json) return 'json';
  if (flags.quiet) return 'quiet';
  const plain = !stderrIsTTY || env.CI !== undefined || env.TERM === 'dumb' || !!env.NO_COLOR;
  return plain ? 'plain' : 'tty';
}

/** Human-readable byte counts. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * A diagnostic made safe to print: secrets redacted, control and bidi
 * characters escaped, and every line after the first indented, so a newline
 * inside untrusted text cannot start a line that looks like one of ours.
 */
export function diagnosticText(text: string): string {
  return forDisplay(text)
    .replace(/\n+$/, '')
    .replace(/\n(?=[^\s])/g, '\n  ');
}

/**
 * A result made safe to print: a JSON document keeps its value (strings
 * redacted one by one, controls written as JSON escapes, same indentation);
 * other text is redacted and escaped as a whole, newlines and tabs kept.
 */
export function resultText(text: string, json: boolean): string {
  if (json) {
    const doc = parseJson(text);
    if (doc !== undefined) {
      const indent = /^[[{]\r?\n( +)/.exec(text)?.[1]?.length;
      return escapeControls(JSON.stringify(redactStrings(doc.value), null, indent));
    }
  }
  return forDisplay(text);
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

function redactStrings(v: unknown): unknown {
  if (typeof v === 'string') return redactSecrets(v);
  if (Array.isArray(v)) return v.map(redactStrings);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactStrings(x)]));
  return v;
}

/** Build the output for a mode. */
export function createOutput(mode: Mode, verbose: boolean, streams: Streams, env: Env): Output {
  const color = new Chalk({ level: mode === 'tty' && !env.NO_COLOR ? 1 : 0 });
  let total = 0;
  let done = 0;
  let bytes = 0;
  let statusShown = false;
  let lastDraw = 0;
  let log: LogSink | undefined;
  const clearStatus = () => {
    if (statusShown) streams.stderr.write('\r\x1b[K');
    statusShown = false;
  };
  const drawStatus = (force = false) => {
    if (mode !== 'tty' || total === 0) return;
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const width = 24;
    const filled = Math.min(width, Math.round((done / total) * width));
    streams.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} items, ${formatBytes(bytes)} downloaded`);
    statusShown = true;
  };
  // Terminal lines by mode: --json shows only warnings (stdout is the
  // document), --quiet nothing but errors. The log gets every line at its level.
  const showsLevel = (level: LogLevel) => (mode === 'json' ? level === 'warn' : mode !== 'quiet');
  // Escaping comes before colour, so chalk's codes are the only ones that reach the terminal.
  const line = (text: string, level: LogLevel = 'info', show = true, paint: (s: string) => string = String) => {
    const safe = diagnosticText(text);
    log?.line(level, safe);
    if (!show || !showsLevel(level)) return;
    clearStatus();
    streams.stderr.write(`${paint(safe)}\n`);
    drawStatus(true);
  };
  const itemLines = mode === 'plain' || verbose;
  // One command may meet the same condition more than once (each cache tier, a derived target): a warning is said once.
  const warned = new Set<string>();
  return {
    mode,
    verbose,
    emit(e) {
      switch (e.type) {
        case 'start':
          total = e.items;
          drawStatus(true);
          break;
        case 'bytes':
          bytes += e.n;
          drawStatus();
          break;
        case 'item-done':
          done++;
          line(`${e.from.padEnd(6)} ${e.item} (${formatBytes(e.bytes)}, ${e.seconds.toFixed(2)} s${e.detail ? `, ${e.detail}` : ''})`, 'info', itemLines);
          if (!itemLines) drawStatus(true);
          break;
        case 'item-failed':
          done++;
          line(`failed ${e.item}: ${e.reason}`, 'error', true, color.red);
          break;
        case 'item-missing':
          done++;
          line(`missing ${e.item}: ${e.reason}`, 'error', true, color.red);
          break;
        case 'corrupt':
          line(
            e.tier === 'registry'
              ? `warning: the cache registry's copy of ${e.item} is corrupt, not used (the next tier is asked): ${e.reason}`
              : `warning: removed a corrupt ${e.tier} copy of ${e.item}: ${e.reason}`,
            'warn',
            true,
            color.yellow,
          );
          break;
        case 'waiting':
          line(`waiting for ${e.holder} to fetch ${e.item}`);
          break;
        case 'retry':
          line(`retrying ${e.item} from its next URL after ${e.url}: ${e.reason}`, 'debug', verbose);
          break;
        case 'warning':
          if (warned.has(e.message)) break;
          warned.add(e.message);
          line(`warning: ${e.message}`, 'warn', true, color.yellow);
          break;
        case 'info':
          line(e.message);
          break;
        case 'debug':
          line(e.message, 'debug', verbose);
          break;
      }
    },
    error(text) {
      const safe = diagnosticText(text);
      log?.line('error', safe);
      clearStatus();
      streams.stderr.write(`${color.red(safe)}\n`);
    },
    note(text) {
      line(text);
    },
    result(text) {
      clearStatus();
      const safe = resultText(text, mode === 'json');
      streams.stdout.write(safe.endsWith('\n') ? safe : `${safe}\n`);
    },
    attachLog(sink) {
      log = sink;
    },
    wantsDebug() {
      return verbose || (log !== undefined && log.level === 'debug');
    },
    close(exitCode) {
      clearStatus();
      if (exitCode === undefined) return;
      log?.finish(exitCode);
      log = undefined;
    },
  };
}
