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

  it('says a warning once per command, however often it is met', () => {
    const { text, s } = streams();
    const out = createOutput('plain', false, s, {});
    for (const m of ['no shared cache', 'no shared cache', 'other', 'no shared cache']) out.emit({ type: 'warning', message: m });
    expect(text.stderr).toBe('warning: no shared cache\nwarning: other\n');
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

describe('untrusted text', () => {
  // A name from a catalogue or an index carrying terminal controls, a CSI in
  // its one-byte C1 form, a right-to-left override and a forged line.
  const hostile = 'tools/a\x1b[2J.deb\x9b31m\u202etxt.exe\n2030-01-01T00:00:00.000Z [1] error: forged';
  const escaped = 'tools/a\\u001b[2J.deb\\u009b31m\\u202etxt.exe\n  2030-01-01T00:00:00.000Z [1] error: forged';
  const url = 'https://user:hunter2@mirror.invalid/debian?token=s3cret&x=1';

  /** Every diagnostic and result kind, with hostile text, in `mode` on a terminal. */
  function render(mode: 'tty' | 'plain' | 'json' | 'quiet') {
    const { text, streams: s } = captureStreams();
    Object.assign(s.stderr, { isTTY: true });
    const logged: string[] = [];
    const out = createOutput(mode, true, s, { TERM: 'xterm-256color' });
    out.attachLog({ level: 'debug', line: (_level, t) => logged.push(t), finish: () => undefined });
    out.emit({ type: 'start', items: 3, bytes: 2 });
    out.emit({ type: 'item-done', item: hostile, from: 'origin', bytes: 1, seconds: 0.1, detail: url });
    out.emit({ type: 'item-failed', item: hostile, reason: `GET ${url}: HTTP 404` });
    out.emit({ type: 'item-missing', item: hostile, reason: 'offline' });
    out.emit({ type: 'corrupt', item: hostile, tier: 'local', reason: 'sha256' });
    out.emit({ type: 'waiting', item: hostile, holder: 'pid 1' });
    out.emit({ type: 'retry', item: hostile, url, reason: 'HTTP 500' });
    out.emit({ type: 'warning', message: hostile });
    out.emit({ type: 'info', message: hostile });
    out.emit({ type: 'debug', message: hostile });
    out.note(hostile);
    out.error(`error: ${hostile} at ${url}`);
    out.result(mode === 'json' ? JSON.stringify({ item: hostile, url, n: [1, 2] }, null, 2) : `${hostile} ${url}`);
    out.close();
    return { ...text, logged };
  }

  it.each(['tty', 'plain', 'json', 'quiet'] as const)('reaches stderr, stdout and the log escaped and redacted in %s mode', (mode) => {
    const r = render(mode);
    // Only chalk's colour codes and the status bar's own sequences reach the terminal.
    const stderrRaw = r.stderr.replace(/\x1b\[(?:3[13]|39)m|\r\x1b\[K/g, '');
    for (const stream of [stderrRaw, r.stdout, r.logged.join('\n')]) {
      expect(stream).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
      expect(stream).not.toMatch(/hunter2|s3cret/);
    }
    // In a diagnostic the forged line never starts a line of its own (results keep their newlines).
    for (const stream of [stderrRaw, r.logged.join('\n')]) expect(stream).not.toMatch(/^2030-01-01/m);
    expect(r.logged.length).toBeGreaterThan(8);
    expect(r.logged.every((l) => l.includes('tools/a\\u001b[2J.deb\\u009b31m\\u202etxt.exe'))).toBe(true);
    if (mode !== 'quiet') expect(r.stderr).toContain(escaped);
    expect(r.stderr).toContain('https://***@mirror.invalid/debian?token=***&x=1');
  });

  it('keeps a JSON result the same document, with its strings escaped and redacted', () => {
    const r = render('json');
    expect(JSON.parse(r.stdout)).toEqual({ item: hostile.replace('', ''), url: 'https://***@mirror.invalid/debian?token=***&x=1', n: [1, 2] });
    expect(r.stdout).toContain('\\u001b[2J.deb\\u009b31m\\u202etxt.exe\\n2030');
    expect(r.stdout.startsWith('{\n  "item"')).toBe(true);
  });

  it('redacts a URL whose query value ends in an escaped quote without breaking the JSON', () => {
    const { text, streams: s } = captureStreams();
    const doc = { url: 'https://h.invalid/?token=ab"c', more: 'x' };
    createOutput('json', false, s, {}).result(JSON.stringify(doc));
    expect(JSON.parse(text.stdout)).toEqual({ url: 'https://h.invalid/?token=***"c', more: 'x' });
  });

  it('colours the escaped text on a terminal, so colour codes wrap it and nothing else does', () => {
    const { text, streams: s } = captureStreams();
    createOutput('tty', false, s, {}).emit({ type: 'warning', message: 'bad \x1b[2J name' });
    expect(text.stderr).toBe('\x1b[33mwarning: bad \\u001b[2J name\x1b[39m\n');
  });
});
