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
