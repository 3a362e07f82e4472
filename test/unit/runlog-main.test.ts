// The run log and the output conventions through the CLI's main().
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Env } from '../../src/env.js';
import { captureStreams } from './streams.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-runlog-main-');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const STAMP = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

/** A catalogue whose `latest` and `other` items can never be fetched (port 9 refuses), and an empty `alpha`. */
function catalogue(items: number): string {
  const entries = (prefix: string) =>
    Array.from({ length: items }, (_, i) =>
      [
        `      - section: tools`,
        `        file: ${prefix}-${i}.deb`,
        `        url: http://127.0.0.1:9/${prefix}-${i}.deb`,
        `        sha256: ${sha(`${prefix}${i}`)}`,
        '        size: 1',
      ].join('\n'),
    ).join('\n');
  return `targets:\n  latest:\n    artifacts:\n${entries('a')}\n  other:\n    artifacts:\n${entries('b')}\n  alpha:\n    artifacts: []\n`;
}

interface Project {
  root: string;
  work: string;
  log: string;
  flags: string[];
}

async function project(items = 2): Promise<Project> {
  const root = await tempDir();
  const targets = path.join(root, 'docker', 'targets.yml');
  await mkdir(path.dirname(targets), { recursive: true });
  await writeFile(targets, catalogue(items));
  const work = path.join(root, 'work');
  return { root, work, log: path.join(work, 'logs', 'g3-composer.log'), flags: ['--targets', targets, '--work-dir', work] };
}

async function run(p: Project, argv: string[], opts: { env?: Env; tty?: boolean } = {}) {
  const { text, streams } = captureStreams();
  if (opts.tty) Object.assign(streams.stderr, { isTTY: true });
  // No retries: a refused connection fails at once.
  const code = await main(argv, { ...streams, env: { G3_RETRIES: '0', ...opts.env }, cwd: p.root, projectRoot: p.root, prog: 'builder' });
  return { code, ...text };
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );
const logLines = async (file: string) => (await readFile(file, 'utf8')).split('\n').slice(0, -1);

describe('the run log of a command', () => {
  it.each([
    ['a command that succeeds', ['alpha', 'cache', '--check'], 0, 'alpha cache', 'target alpha has no artifacts: nothing to cache'],
    ['a command that finds work', ['latest', 'cache', '--check'], 1, 'latest cache', 'latest: 2 of 2 items need a refresh'],
    ['a command refused after the settings were read', ['gamma', 'cache'], 2, 'gamma cache', 'error: unknown target "gamma"'],
  ])('records %s between UTC banners, with its exit code', async (_what, argv, code, command, line) => {
    const p = await project();
    const r = await run(p, [...argv, ...p.flags]);
    expect(r.code).toBe(code);
    const all = await logLines(p.log);
    expect(all[0]).toMatch(
      new RegExp(`^==== EXECUTING builder ${argv.join(' ')} --targets \\S+ --work-dir \\S+ \\| ${STAMP} \\| pid ${process.pid} \\| cwd ${p.root}$`),
    );
    expect(all.at(-1)).toMatch(new RegExp(`^==== FINISHED ${command} \\| exit ${code} \\| \\d+\\.\\d s \\| ${STAMP}$`));
    expect(all.slice(1, -1).some((l) => new RegExp(`^${STAMP} \\[${process.pid}\\] ${line.replace(/[."]/g, '\\$&')}`).test(l))).toBe(true);
    // Results (stdout) stay out of the log.
    expect(all.join('\n')).not.toContain('needs refresh:');
  });

  it.each([
    ['bad arguments', ['latest', 'cache', '--chekc']],
    ['--help', ['latest', 'cache', '--help']],
    ['--version', ['--version']],
    ['invalid settings', ['latest', 'cache', '--workers', '0']],
  ])('writes no log for %s', async (_what, argv) => {
    const p = await project();
    await run(p, [...argv, ...p.flags]);
    expect(await exists(p.log)).toBe(false);
  });

  it.each(['none', '-'])('writes no log with G3_LOG_FILE=%s', async (value) => {
    const p = await project();
    const r = await run(p, ['alpha', 'cache', '--check', ...p.flags], { env: { G3_LOG_FILE: value } });
    expect(r.code).toBe(0);
    expect(await exists(p.log)).toBe(false);
    expect(await exists(path.dirname(p.log))).toBe(false);
  });

  it('writes the log where G3_LOG_FILE says, keeping only errors at G3_LOG_LEVEL=error', async () => {
    const p = await project();
    const file = path.join(p.root, 'elsewhere', 'run.log');
    const r = await run(p, ['latest', 'cache', ...p.flags], { env: { G3_LOG_FILE: file, G3_LOG_LEVEL: 'error' } });
    expect(r.code).toBe(1);
    expect(await exists(p.log)).toBe(false);
    const body = (await logLines(file)).slice(1, -1).map((l) => l.replace(new RegExp(`^${STAMP} \\[\\d+\\] `), ''));
    expect(r.stderr).toContain('warning: no shared cache configured');
    expect(r.stderr).toContain('latest: 2 items');
    expect(body.length).toBeGreaterThan(0);
    for (const l of body) expect(l).toMatch(/^(failed |error: )/);
  });

  it('warns once when the log cannot be opened, and the command goes on with its own exit code', async () => {
    const p = await project();
    await mkdir(p.work, { recursive: true });
    await writeFile(path.join(p.work, 'logs'), 'a file where the log directory should be');
    const r = await run(p, ['latest', 'cache', '--check', ...p.flags]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(2);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('run log'));
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^warning: cannot open the run log ${p.log.replace(/[.]/g, '\\.')}: .*going on without it`))]);
  });

  it('keeps the log even when --quiet prints nothing on stderr for a successful command', async () => {
    const p = await project();
    const r = await run(p, ['alpha', 'cache', '--check', '--quiet', ...p.flags]);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await readFile(p.log, 'utf8')).toContain('target alpha has no artifacts: nothing to cache');
  });

  it('takes whole lines from two concurrent runs, each with its own banners', async () => {
    const p = await project(25);
    const [a, b] = await Promise.all([run(p, ['latest', 'cache', ...p.flags]), run(p, ['other', 'cache', ...p.flags])]);
    expect([a.code, b.code]).toEqual([1, 1]);
    const all = await logLines(p.log);
    for (const l of all) expect(l).toMatch(new RegExp(`^(==== (EXECUTING|FINISHED) .*|${STAMP} \\[${process.pid}\\] \\S.*)$`));
    for (const [target, prefix] of [
      ['latest', 'a'],
      ['other', 'b'],
    ]) {
      expect(all.filter((l) => l.startsWith(`==== EXECUTING builder ${target} cache`))).toHaveLength(1);
      expect(all.filter((l) => l.startsWith(`==== FINISHED ${target} cache | exit 1 |`))).toHaveLength(1);
      for (let i = 0; i < 25; i++) {
        const failed = all.filter((l) => new RegExp(`\\] failed tools/${prefix}-${i}\\.deb: .+`).test(l));
        expect(failed, `${prefix}-${i}`).toHaveLength(1);
      }
    }
  });
});

describe('terminal output', () => {
  it.each([
    ['CI', { CI: 'true' }],
    ['NO_COLOR', { NO_COLOR: '1' }],
    ['TERM=dumb', { TERM: 'dumb' }],
  ])('prints no escape sequences on a terminal under %s', async (_what, env) => {
    const p = await project();
    const r = await run(p, ['latest', 'cache', ...p.flags], { env, tty: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('failed tools/a-0.deb');
    expect(r.stderr).not.toContain('\x1b');
  });

  it('colours errors and draws a status bar on a plain terminal', async () => {
    const p = await project();
    const r = await run(p, ['latest', 'cache', ...p.flags], { env: { TERM: 'xterm' }, tty: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('\x1b[31mfailed tools/a-0.deb');
    expect(r.stderr).toMatch(/\r\x1b\[K\[[#.]{24}\] \d\/2 items/);
  });

  it('prints nothing on stderr with --quiet for a successful command', async () => {
    const p = await project();
    const r = await run(p, ['alpha', 'cache', '--quiet', ...p.flags], { tty: true });
    expect(r).toMatchObject({ code: 0, stderr: '' });
  });
});
