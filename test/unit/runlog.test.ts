import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOutput } from '../../src/cli/output.js';
import { run, setCommandTrace } from '../../src/exec.js';
import { admits, type LogLevel, openRunLog, type RunLog, type RunLogOptions } from '../../src/log/runlog.js';
import { captureStreams } from './streams.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-runlog-');
const RUNLOG = fileURLToPath(new URL('../../src/log/runlog.ts', import.meta.url));
const STAMP = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
const LEVELS: LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** A clock that advances by `step` ms on every reading. */
function clock(start: string, step: number): () => Date {
  let t = Date.parse(start) - step;
  return () => {
    t += step;
    return new Date(t);
  };
}

async function open(over: Partial<RunLogOptions> = {}): Promise<{ log: RunLog; file: string; problems: string[] }> {
  const file = path.join(await tempDir(), 'logs', 'deep', 'g3-composer.log');
  const problems: string[] = [];
  const log = openRunLog(
    { file, level: 'info', prog: './builder.ts', argv: ['latest', 'build', '--work-dir', 'a b'], cwd: '/srv/p', command: 'latest build', pid: 42, ...over },
    (m) => problems.push(m),
  );
  if (typeof log === 'string') throw new Error(log);
  return { log, file, problems };
}

const lines = async (file: string) => (await readFile(file, 'utf8')).split('\n').slice(0, -1);

describe('RunLog', () => {
  it('writes UTC banners around timestamped lines, creating its directories', async () => {
    const { log, file } = await open({ now: clock('2025-03-04T05:06:07.000Z', 1250) });
    log.line('info', 'latest: 2 items');
    log.finish(1);
    expect(await lines(file)).toEqual([
      "==== EXECUTING ./builder.ts latest build --work-dir 'a b' | 2025-03-04T05:06:07.000Z | pid 42 | cwd /srv/p",
      '2025-03-04T05:06:08.250Z [42] latest: 2 items',
      '==== FINISHED latest build | exit 1 | 2.5 s | 2025-03-04T05:06:09.500Z',
    ]);
  });

  it('appends to an existing log instead of replacing it', async () => {
    const { log, file } = await open();
    log.finish(0);
    const again = openRunLog({ file, level: 'info', prog: 'b', argv: [], cwd: '/', command: 'list' }, () => undefined);
    if (typeof again === 'string') throw new Error(again);
    again.finish(2);
    const all = await lines(file);
    expect(all.filter((l) => l.startsWith('==== EXECUTING'))).toHaveLength(2);
    expect(all.at(-1)).toMatch(new RegExp(`^==== FINISHED list \\| exit 2 \\| \\d+\\.\\d s \\| ${STAMP}$`));
  });

  it('strips colours and carriage returns, and prefixes each line of a multi-line entry', async () => {
    const { log, file } = await open({ now: () => new Date('2025-01-01T00:00:00Z') });
    log.line('error', '\x1b[31minternal error: Error: boom\n    at f (x.ts:1)\x1b[39m\r\n');
    log.line('warn', '\r\x1b[K\x1b[33mwarning: slow mirror\x1b[39m');
    expect((await lines(file)).slice(1)).toEqual([
      '2025-01-01T00:00:00.000Z [42] internal error: Error: boom',
      '2025-01-01T00:00:00.000Z [42]     at f (x.ts:1)',
      '2025-01-01T00:00:00.000Z [42] warning: slow mirror',
    ]);
  });

  it.each(LEVELS)('at log level %s keeps the lines of that level and the more severe ones', async (level) => {
    const { log, file } = await open({ level });
    for (const l of LEVELS) log.line(l, `a ${l} line`);
    log.finish(0);
    const kept = (await lines(file)).filter((l) => !l.startsWith('====')).map((l) => l.replace(/^.*\] a (\w+) line$/, '$1'));
    expect(kept).toEqual(LEVELS.slice(0, LEVELS.indexOf(level) + 1));
    expect(LEVELS.filter((l) => admits(level, l))).toEqual(kept);
  });

  it('writes one FINISHED banner and ignores lines after it', async () => {
    const { log, file } = await open();
    log.finish(0);
    log.finish(1);
    log.line('error', 'an entry after the end');
    const all = await lines(file);
    expect(all.filter((l) => l.startsWith('==== FINISHED'))).toEqual([expect.stringContaining('| exit 0 |')]);
    expect(all.join('\n')).not.toContain('after the end');
  });

  it.each([
    [
      'a parent that is a file',
      async (dir: string) => {
        await writeFile(path.join(dir, 'logs'), '');
        return path.join(dir, 'logs', 'g3-composer.log');
      },
    ],
    [
      'a directory in the log file’s place',
      async (dir: string) => {
        await mkdir(path.join(dir, 'g3-composer.log'));
        return path.join(dir, 'g3-composer.log');
      },
    ],
  ])('returns the reason, naming the file, when it cannot open a log under %s', async (_what, make) => {
    const file = await make(await tempDir());
    const r = openRunLog({ file, level: 'info', prog: 'b', argv: [], cwd: '/', command: 'x' }, () => undefined);
    expect(r).toEqual(expect.stringContaining(`cannot open the run log ${file}: `));
    expect(r).toEqual(expect.stringContaining('G3_LOG_FILE'));
  });

  it('still writes a FINISHED banner with the exit code when the process exits early (SIGINT handler)', async () => {
    const file = path.join(await tempDir(), 'g3.log');
    const script = `import { openRunLog } from ${JSON.stringify(RUNLOG)};
      const log = openRunLog({ file: ${JSON.stringify(file)}, level: 'info', prog: 'b', argv: ['latest', 'build'], cwd: '/', command: 'latest build' }, () => undefined);
      log.line('info', 'working');
      process.exit(130);`;
    const r = await run({ command: process.execPath, args: ['--import', 'tsx', '--input-type=module', '-e', script] }, { reject: false });
    expect(r.exitCode).toBe(130);
    expect((await lines(file)).at(-1)).toMatch(/^==== FINISHED latest build \| exit 130 \| .* \| the process exited before the command finished$/);
  });

  it('keeps every line whole when several processes append to the same log at once', async () => {
    const file = path.join(await tempDir(), 'shared', 'g3.log');
    const writers = 4;
    const count = 1000;
    // Every writer says it is ready, then waits for the test's go, so the appends overlap however slow start-up is.
    const dir = path.dirname(path.dirname(file));
    const go = path.join(dir, 'go');
    const script = (id: number) => `import { openRunLog } from ${JSON.stringify(RUNLOG)};
      import { existsSync, writeFileSync } from 'node:fs';
      writeFileSync(${JSON.stringify(path.join(dir, 'ready-'))} + ${id}, '');
      const pause = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 12000 && !existsSync(${JSON.stringify(go)}); i++) Atomics.wait(pause, 0, 0, 5);
      const log = openRunLog({ file: ${JSON.stringify(file)}, level: 'info', prog: 'b', argv: [], cwd: '/', command: 'w${id}' }, (m) => { throw new Error(m); });
      for (let i = 0; i < ${count}; i++) log.line('info', 'w${id} ' + i + ' ' + '${String.fromCharCode(97 + id)}'.repeat(4000) + ' end');
      log.finish(0);`;
    const running = Promise.all(
      Array.from({ length: writers }, (_, id) =>
        run({ command: process.execPath, args: ['--import', 'tsx', '--input-type=module', '-e', script(id)] }, { reject: false }),
      ),
    );
    await vi.waitFor(async () => expect((await readdir(dir)).filter((n) => n.startsWith('ready-'))).toHaveLength(writers), { timeout: 50_000, interval: 20 });
    await writeFile(go, '');
    const results = await running;
    expect(results.map((r) => r.stderr)).toEqual(Array(writers).fill(''));
    const all = await lines(file);
    expect(all).toHaveLength(writers * (count + 2));
    for (let id = 0; id < writers; id++) {
      const letter = String.fromCharCode(97 + id);
      const mine = all.filter((l) => new RegExp(`^${STAMP} \\[\\d+\\] w${id} `).test(l));
      expect(mine).toHaveLength(count);
      for (const l of mine) expect(l).toMatch(new RegExp(`^${STAMP} \\[\\d+\\] w${id} \\d+ ${letter}{4000} end$`));
      expect(all.filter((l) => l.startsWith(`==== FINISHED w${id} | exit 0`))).toHaveLength(1);
    }
  }, 60_000);
});

describe('RunLog with untrusted text', () => {
  const readers: number[] = [];
  afterEach(() => {
    for (const fd of readers.splice(0)) closeSync(fd);
  });
  it('escapes controls and redacts URL credentials and token values in every line', async () => {
    const { log, file } = await open({ now: () => new Date('2025-01-01T00:00:00Z') });
    log.line('warn', 'failed http://user:hunter2@127.0.0.1:9/a.deb?token=abc123&arch=amd64: bell\x07 and \u202egnp.exe');
    log.finish(1);
    const text = await readFile(file, 'utf8');
    expect((await lines(file))[1]).toBe(
      '2025-01-01T00:00:00.000Z [42] failed http://***@127.0.0.1:9/a.deb?token=***&arch=amd64: bell\\u0007 and \\u202egnp.exe',
    );
    expect(text).not.toMatch(/hunter2|abc123|\x07|\u202e/);
  });

  it('writes the EXECUTING banner on one line, its arguments escaped and redacted', async () => {
    const argv = ['latest', 'cache', '--mirror', 'https://u:s3cret@127.0.0.1/debian?access_token=t0k', 'a\nb', '\x1b]0;title\x07'];
    const { log, file } = await open({ argv, command: 'latest cache\n==== FINISHED forged', now: () => new Date('2025-01-01T00:00:00Z') });
    log.finish(0);
    const all = await lines(file);
    expect(all).toHaveLength(2);
    expect(all[0]).toBe(
      "==== EXECUTING ./builder.ts latest cache --mirror 'https://***@127.0.0.1/debian?access_token=***' 'a\\u000ab' '\\u001b]0;title\\u0007' | 2025-01-01T00:00:00.000Z | pid 42 | cwd /srv/p",
    );
    expect(all[1]).toMatch(/^==== FINISHED latest cache\\u000a==== FINISHED forged \| exit 0 /);
    expect(all.join('\n')).not.toMatch(/s3cret|t0k/);
  });

  it.each([
    [
      'a symbolic link at the log path',
      async (file: string, victim: string) => symlink(path.join(victim, 'profile'), file),
      /the run log .* is a symbolic link: not followed/,
    ],
    [
      'a log folder that is a symbolic link',
      async (file: string, victim: string) => symlink(victim, path.dirname(file)),
      /the run log's folder .* is a symbolic link: not followed/,
    ],
    // With a reader at the other end (so that nothing blocks, before the fix or after): not a regular file, so no log.
    [
      'a FIFO at the log path',
      async (file: string) => {
        execFileSync('mkfifo', [file]);
        readers.push(openSync(file, constants.O_RDONLY | constants.O_NONBLOCK));
      },
      /is not a regular file/,
    ],
  ])('refuses %s: no log, a reason for one warning, the target untouched', async (what, plant, reason) => {
    const dir = await tempDir();
    const victim = await tempDir();
    await writeFile(path.join(victim, 'profile'), 'export PATH=/usr/bin\n');
    const file = path.join(dir, 'logs', 'g3-composer.log');
    await mkdir(path.join(dir, 'logs'), { recursive: true });
    if (what.includes('folder')) await rm(path.join(dir, 'logs'), { recursive: true });
    await plant(file, victim);
    const log = openRunLog({ file, level: 'info', prog: 'b', argv: ['x'], cwd: '/', command: 'list' }, () => undefined);
    expect(typeof log).toBe('string');
    expect(log).toMatch(reason);
    expect(log).toMatch(/going on without it/);
    expect(await readFile(path.join(victim, 'profile'), 'utf8')).toBe('export PATH=/usr/bin\n');
    expect(await readdir(victim)).toEqual(['profile']);
  });
});

describe('Output with a run log', () => {
  async function setup(mode: 'tty' | 'plain' | 'json' | 'quiet', level: LogLevel, verbose = false) {
    const { text, streams } = captureStreams();
    const out = createOutput(mode, verbose, streams, {});
    const { log, file } = await open({ level });
    out.attachLog(log);
    return { out, text, file };
  }

  it('logs notes, warnings, item lines and errors even when --quiet shows only the error', async () => {
    const { out, text, file } = await setup('quiet', 'info');
    out.emit({ type: 'start', items: 1, bytes: 1 });
    out.emit({ type: 'item-done', item: 'tools/a.deb', from: 'shared', bytes: 2048, seconds: 0.25 });
    out.emit({ type: 'warning', message: 'shared tier is read-only' });
    out.note('latest: 1 item');
    out.result('a result');
    out.error('error: it broke');
    out.close(1);
    expect(text.stderr).toBe('error: it broke\n');
    const logged = (await lines(file)).map((l) => l.replace(new RegExp(`^${STAMP} \\[42\\] `), ''));
    expect(logged.slice(1, -1)).toEqual(['shared tools/a.deb (2.0 KiB, 0.25 s)', 'warning: shared tier is read-only', 'latest: 1 item', 'error: it broke']);
    expect(logged.at(-1)).toMatch(/^==== FINISHED latest build \| exit 1 \|/);
  });

  it('keeps colours on the terminal but not in the log', async () => {
    const { out, text, file } = await setup('tty', 'info');
    out.emit({ type: 'warning', message: 'careful' });
    out.error('error: bad');
    out.close(2);
    expect(text.stderr).toContain('\x1b[');
    expect(await readFile(file, 'utf8')).not.toContain('\x1b');
  });

  it.each([
    ['info', false, false, false],
    ['info', true, true, false],
    ['debug', false, false, true],
    ['debug', true, true, true],
  ] as const)('at log level %s with verbose %s: debug lines on the terminal %s, in the log %s', async (level, verbose, shown, logged) => {
    const { out, text, file } = await setup('plain', level, verbose);
    expect(out.wantsDebug()).toBe(shown || logged);
    out.emit({ type: 'debug', message: '$ gpgv --status-fd 1 InRelease  (0.01 s, exit 0)' });
    out.emit({ type: 'retry', item: 'tools/a.deb', url: 'http://127.0.0.1:9/a.deb', reason: 'ECONNREFUSED' });
    out.close(0);
    expect(text.stderr.includes('$ gpgv')).toBe(shown);
    expect(text.stderr.includes('retrying tools/a.deb')).toBe(shown);
    const content = await readFile(file, 'utf8');
    expect(content.includes('$ gpgv --status-fd 1 InRelease  (0.01 s, exit 0)')).toBe(logged);
    expect(content.includes('retrying tools/a.deb')).toBe(logged);
  });

  it('logs every external command with its duration and exit code at log level debug', async () => {
    const { out, file } = await setup('plain', 'debug');
    setCommandTrace(out.wantsDebug() ? (line) => out.emit({ type: 'debug', message: line }) : undefined);
    try {
      await run({ command: 'true', args: ['a b'] });
      await run({ command: 'false', args: [] }, { reject: false });
    } finally {
      setCommandTrace(undefined);
    }
    out.close(0);
    const content = await readFile(file, 'utf8');
    expect(content).toMatch(new RegExp(`${STAMP} \\[42\\] \\$ true 'a b' {2}\\(\\d+\\.\\d\\d s, exit 0\\)\\n`));
    expect(content).toMatch(new RegExp(`${STAMP} \\[42\\] \\$ false {2}\\(\\d+\\.\\d\\d s, exit 1\\)\\n`));
  });

  it('writes the FINISHED banner only when closed with an exit code', async () => {
    const { out, file } = await setup('plain', 'info');
    out.close();
    expect(await readFile(file, 'utf8')).not.toContain('FINISHED');
    out.close(0);
    expect(await readFile(file, 'utf8')).toContain('==== FINISHED latest build | exit 0 |');
  });
});
