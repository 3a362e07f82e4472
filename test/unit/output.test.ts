import { captureStreams } from './streams.js';
import { describe, expect, it } from 'vitest';
import { createOutput, formatBytes, pickMode } from '../../src/cli/output.js';

describe('pickMode', () => {
  it.each([
    ['--json', { json: true }, {}, true, 'json'],
    ['--json over --quiet', { json: true, quiet: true }, {}, true, 'json'],
    ['--json even when not a TTY', { json: true }, {}, false, 'json'],
    ['--quiet', { quiet: true }, {}, true, 'quiet'],
    ['--quiet in CI', { quiet: true }, { CI: 'true' }, false, 'quiet'],
    ['a TTY', {}, { TERM: 'xterm-256color' }, true, 'tty'],
    ['a TTY with no TERM', {}, {}, true, 'tty'],
    ['not a TTY', {}, {}, false, 'plain'],
    ['CI on a TTY', {}, { CI: 'true' }, true, 'plain'],
    ['TERM=dumb on a TTY', {}, { TERM: 'dumb' }, true, 'plain'],
    ['NO_COLOR on a TTY', {}, { NO_COLOR: '1' }, true, 'plain'],
  ] as const)('picks the mode for %s', (_what, flags, env, tty, mode) => {
    expect(pickMode(flags, env, tty)).toBe(mode);
  });

  it('ignores an empty NO_COLOR on a TTY', () => {
    expect(pickMode({}, { NO_COLOR: '' }, true)).toBe('tty');
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1024 * 1024 - 1, '1024.0 KiB'],
    [1024 * 1024, '1.0 MiB'],
    [113_144, '110.5 KiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [2 * 1024 ** 4, '2.0 TiB'],
    [3 * 1024 ** 5, '3072.0 TiB'],
  ])('formats %d bytes as %j', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});

describe('createOutput', () => {
  function streams() {
    const { text, streams: s } = captureStreams();
    return { text, s };
  }

  it('prints a line per finished item in plain mode, on stderr', () => {
    const { text, s } = streams();
    const out = createOutput('plain', false, s, {});
    out.emit({ type: 'start', items: 1, bytes: 10 });
    out.emit({ type: 'item-done', item: 'tools/a.deb', from: 'origin', bytes: 2048, seconds: 0.5 });
    out.close();
    expect(text.stderr).toBe('origin tools/a.deb (2.0 KiB, 0.50 s)\n');
    expect(text.stdout).toBe('');
  });

  it('prints only results and errors in quiet mode', () => {
    const { text, s } = streams();
    const out = createOutput('quiet', false, s, {});
    out.emit({ type: 'warning', message: 'w' });
    out.note('a note');
    out.result('the result');
    out.error('an error');
    expect(text.stdout).toBe('the result\n');
    expect(text.stderr).toBe('an error\n');
  });

  it('still shows warnings on stderr in json mode, keeping stdout for the document', () => {
    const { text, s } = streams();
    const out = createOutput('json', false, s, {});
    out.emit({ type: 'warning', message: 'careful' });
    out.emit({ type: 'info', message: 'dropped' });
    out.result('{}');
    expect(text.stderr).toBe('warning: careful\n');
    expect(text.stdout).toBe('{}\n');
  });
});

describe('terminal conventions', () => {
  /** Everything a refresh can print, on a stream that says it is a terminal. */
  function render(env: Record<string, string>, flags: { json?: boolean; quiet?: boolean } = {}, verbose = false) {
    const { text, streams: s } = captureStreams();
    Object.assign(s.stderr, { isTTY: true });
    const out = createOutput(pickMode(flags, env, true), verbose, s, env);
    out.emit({ type: 'start', items: 3, bytes: 30 });
    out.emit({ type: 'bytes', n: 10 });
    out.emit({ type: 'item-done', item: 'tools/a.deb', from: 'origin', bytes: 10, seconds: 0.1 });
    out.emit({ type: 'item-failed', item: 'tools/b.deb', reason: 'HTTP 404' });
    out.emit({ type: 'corrupt', item: 'tools/c.deb', tier: 'shared', reason: 'sha256 mismatch' });
    out.emit({ type: 'warning', message: 'slow' });
    out.emit({ type: 'debug', message: '$ gpgv InRelease  (0.01 s, exit 0)' });
    out.note('latest: 3 items');
    out.error('error: 1 item(s) failed');
    out.close(1);
    return text;
  }

  it.each([
    ['CI', { CI: 'true' }],
    ['NO_COLOR', { NO_COLOR: '1' }],
    ['TERM=dumb', { TERM: 'dumb' }],
  ])('prints plain lines without escape sequences or a status bar on a terminal under %s', (_what, env) => {
    const text = render(env);
    expect(text.stderr).not.toMatch(/[\x1b\r]/);
    expect(text.stderr.split('\n')).toEqual([
      'origin tools/a.deb (10 B, 0.10 s)',
      'failed tools/b.deb: HTTP 404',
      'warning: removed a corrupt shared copy of tools/c.deb: sha256 mismatch',
      'warning: slow',
      'latest: 3 items',
      'error: 1 item(s) failed',
      '',
    ]);
  });

  it('draws a status bar and colours on a terminal otherwise', () => {
    const text = render({ TERM: 'xterm-256color' });
    expect(text.stderr).toContain('\r\x1b[K[');
    expect(text.stderr).toContain('\x1b[31mfailed tools/b.deb');
    // Item lines give way to the bar; --verbose brings them back.
    expect(text.stderr).not.toContain('origin tools/a.deb');
    expect(render({ TERM: 'xterm-256color' }, {}, true).stderr).toContain('origin tools/a.deb');
  });

  it('prints only errors with --quiet, even on a terminal', () => {
    expect(render({ TERM: 'xterm-256color' }, { quiet: true }).stderr).toBe('error: 1 item(s) failed\n');
  });

  it('prints warnings and errors but no progress with --json', () => {
    expect(render({ TERM: 'xterm-256color' }, { json: true }, true).stderr.split('\n')).toEqual([
      'warning: removed a corrupt shared copy of tools/c.deb: sha256 mismatch',
      'warning: slow',
      'error: 1 item(s) failed',
      '',
    ]);
  });

  it.each([
    [false, ''],
    [true, '$ gpgv InRelease  (0.01 s, exit 0)\n'],
  ])('shows external commands with their duration only with --verbose (%s)', (verbose, shown) => {
    const { text, streams: s } = captureStreams();
    const out = createOutput('plain', verbose, s, {});
    out.emit({ type: 'debug', message: '$ gpgv InRelease  (0.01 s, exit 0)' });
    expect(text.stderr).toBe(shown);
    expect(out.wantsDebug()).toBe(verbose);
  });
});
