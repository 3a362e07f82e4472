// Renderers for library events: a TTY status line, plain lines for CI and
// pipes, or nothing but the final JSON document.
import { Chalk } from 'chalk';
import type { Env } from '../env.js';
import type { CacheEvent } from '../log/events.js';

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
  /** Finish any status line. */
  close(): void;
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

/** Build the output for a mode. */
export function createOutput(mode: Mode, verbose: boolean, streams: Streams, env: Env): Output {
  const color = new Chalk({ level: mode === 'tty' && !env.NO_COLOR ? 1 : 0 });
  let total = 0;
  let done = 0;
  let bytes = 0;
  let statusShown = false;
  let lastDraw = 0;
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
    const filled = Math.round((done / total) * width);
    streams.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} items, ${formatBytes(bytes)} downloaded`);
    statusShown = true;
  };
  const line = (text: string) => {
    clearStatus();
    streams.stderr.write(`${text}\n`);
    drawStatus(true);
  };
  const itemLines = mode === 'plain' || verbose;
  return {
    mode,
    verbose,
    emit(e) {
      if (mode === 'json' || mode === 'quiet') {
        if (e.type === 'warning' && mode === 'json') streams.stderr.write(`warning: ${e.message}\n`);
        return;
      }
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
          if (itemLines) line(`${e.from.padEnd(6)} ${e.item} (${formatBytes(e.bytes)}, ${e.seconds.toFixed(2)} s${e.detail ? `, ${e.detail}` : ''})`);
          else drawStatus(true);
          break;
        case 'item-failed':
          done++;
          line(color.red(`failed ${e.item}: ${e.reason}`));
          break;
        case 'item-missing':
          done++;
          line(color.red(`missing ${e.item}: ${e.reason}`));
          break;
        case 'corrupt':
          line(color.yellow(`warning: removed a corrupt ${e.tier} copy of ${e.item}: ${e.reason}`));
          break;
        case 'waiting':
          line(`waiting for ${e.holder} to fetch ${e.item}`);
          break;
        case 'retry':
          if (verbose) line(`retrying ${e.item} from its next URL after ${e.url}: ${e.reason}`);
          break;
        case 'warning':
          line(color.yellow(`warning: ${e.message}`));
          break;
        case 'info':
          line(e.message);
          break;
        case 'debug':
          if (verbose) line(e.message);
          break;
      }
    },
    error(text) {
      clearStatus();
      streams.stderr.write(`${color.red(text)}\n`);
    },
    note(text) {
      if (mode === 'quiet' || mode === 'json') return;
      line(text);
    },
    result(text) {
      clearStatus();
      streams.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    close() {
      clearStatus();
    },
  };
}
