import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { captureStreams } from './streams.js';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/registry.js';
import { main } from '../../src/cli/main.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-main-');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in a temp project with fake streams and an empty environment. */
async function run(argv: string[], projectRoot?: string): Promise<Run> {
  const root = projectRoot ?? (await tempDir());
  const { text, streams } = captureStreams();
  const code = await main(argv, { ...streams, env: {}, cwd: root, projectRoot: root, prog: 'builder' });
  return { code, ...text };
}

/** What the catalogue loader calls `file` in messages: relative under the cwd, else absolute. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') ? relative : file;
}

/** A temp project with a catalogue (never fetched from: its URLs point at port 9) and an empty g3-cache dir. */
async function project(catalogue: string) {
  const root = await tempDir();
  const targets = path.join(root, 'docker', 'targets.yml');
  const g3 = path.join(root, 'docker', '.g3-cache');
  await mkdir(g3, { recursive: true });
  await writeFile(targets, catalogue);
  return { root, targets, g3, flags: ['--targets', targets, '--g3-cache', g3] };
}

const CATALOGUE = [
  'targets:', // 1
  '  latest:', // 2
  '    artifacts:', // 3
  '      - section: tools', // 4
  '        file: a.deb', // 5
  '        url: http://127.0.0.1:9/a.deb', // 6
  `        sha256: ${sha('a')}`, // 7
  '        size: 1', // 8
  '      - section: tools', // 9
  '        file: b.deb', // 10
  '        url: http://127.0.0.1:9/b.deb', // 11
  `        sha256: ${sha('b')}`, // 12
  '  alpha:', // 13
  '    artifacts: []', // 14
  '',
].join('\n');

describe('main', () => {
  it.each([[['--help']], [['-h']], [['help']]])('prints the main help for %j and exits 0', async (argv) => {
    const r = await run(argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: builder <target> <command> \[options\]/);
    for (const { name } of COMMANDS) expect(r.stdout).toContain(`  ${name} `);
    expect(r.stderr).toBe('');
  });

  it('prints the help of a command and exits 0', async () => {
    const r = await run(['latest', 'cache', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: builder <target> cache \[options\]/);
    expect(r.stdout).toContain('--check');
  });

  it('prints the version from the project package.json', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, 'package.json'), JSON.stringify({ version: '9.8.7' }));
    const r = await run(['--version'], root);
    expect(r).toMatchObject({ code: 0, stdout: '9.8.7\n' });
  });

  it('prints "unknown" as the version when the project has no package.json', async () => {
    const r = await run(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: 'unknown\n' });
  });

  it('reports an unreadable package.json instead of hiding it behind "unknown"', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'package.json'));
    const r = await run(['--version'], root);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('EISDIR');
  });

  it('refuses an unknown command with exit 2 and a suggestion', async () => {
    const r = await run(['latest', 'cahce']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: unknown command "cahce"');
    expect(r.stderr).toContain('Did you mean "cache"?');
    expect(r.stdout).toBe('');
  });

  it('refuses an unknown option with exit 2 and a suggestion', async () => {
    const r = await run(['latest', 'cache', '--chekc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: unknown option --chekc');
    expect(r.stderr).toContain('Did you mean --check?');
  });

  it.each([
    [[], 'error: missing target and command'],
    [['latest'], 'error: missing command after target "latest"'],
    [['latest', 'cache', 'extra'], 'error: unexpected argument "extra"'],
  ])('refuses %j with exit 2', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('refuses an unknown target with exit 2, listing the known ones', async () => {
    const p = await project(CATALOGUE);
    const r = await run(['gamma', 'cache', ...p.flags], p.root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: unknown target "gamma" in ${shown(p.targets)}`);
    expect(r.stderr).toContain('Known targets: alpha, latest.');
  });

  it('refuses a missing catalogue with exit 2', async () => {
    const root = await tempDir();
    const r = await run(['latest', 'cache', '--check', '--targets', path.join(root, 'none.yml')], root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read target catalogue');
  });

  it('refuses a catalogue with malformed YAML with exit 2, naming the file and a line', async () => {
    const p = await project('targets:\n  latest: {\n');
    const r = await run(['latest', 'cache', '--check', ...p.flags], p.root);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`error: ${shown(p.targets).replace(/[.]/g, '\\.')}:\\d+: malformed YAML`));
  });

  it('refuses an invalid catalogue entry with exit 2, naming file:line and the field', async () => {
    const p = await project(CATALOGUE.replace(`sha256: ${sha('b')}`, 'sha256: nothex'));
    const r = await run(['latest', 'cache', '--check', ...p.flags], p.root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${shown(p.targets)}:12: targets.latest.artifacts[1].sha256 must be 64 hexadecimal digits`);
  });

  it.each([
    ['a path in the file name', 'file: ../../../../tmp/evil', 'file'],
    ['a hidden section', 'section: .g3-locks', 'section'],
  ])('refuses a catalogue with %s with exit 2, writing nothing', async (_what, line, field) => {
    const p = await project(CATALOGUE.replace(field === 'file' ? 'file: b.deb' : /section: tools(?=\n {8}file: b\.deb)/, line));
    const r = await run(['latest', 'cache', ...p.flags], p.root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`targets.latest.artifacts[1].${field} must`);
    expect(await readdir(p.g3)).toEqual([]);
  });

  it('reports every item as missing for cache --check on an empty g3-cache, with exit 1', async () => {
    const p = await project(CATALOGUE);
    const r = await run(['latest', 'cache', '--check', ...p.flags], p.root);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['needs refresh: tools/a.deb: missing', 'needs refresh: tools/b.deb: missing']);
    expect(r.stderr).toContain('latest: 2 of 2 items need a refresh');
    expect(await readdir(p.g3)).toEqual([]);
  });

  it('prints the check report as JSON with --json', async () => {
    const p = await project(CATALOGUE);
    const r = await run(['latest', 'cache', '--check', '--json', ...p.flags], p.root);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      command: 'cache --check',
      target: 'latest',
      items: 2,
      ok: false,
      needsRefresh: [
        { item: 'tools/a.deb', reason: 'missing' },
        { item: 'tools/b.deb', reason: 'missing' },
      ],
    });
  });

  it('passes cache --check with exit 0 when every item is present and verified', async () => {
    const p = await project(CATALOGUE);
    await mkdir(path.join(p.g3, 'tools'));
    await writeFile(path.join(p.g3, 'tools', 'a.deb'), 'a');
    await writeFile(path.join(p.g3, 'tools', 'b.deb'), 'b');
    const r = await run(['latest', 'cache', '--check', ...p.flags], p.root);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('latest: all 2 items present and verified');
    // --check changes nothing: no stamps were written.
    expect((await readdir(p.g3)).sort()).toEqual(['tools']);
  });

  it('reports a corrupt item for cache --check with its reason', async () => {
    const p = await project(CATALOGUE);
    await mkdir(path.join(p.g3, 'tools'));
    await writeFile(path.join(p.g3, 'tools', 'a.deb'), 'x');
    await writeFile(path.join(p.g3, 'tools', 'b.deb'), 'b');
    const r = await run(['latest', 'cache', '--check', ...p.flags], p.root);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^needs refresh: tools\/a\.deb: sha256 [0-9a-f]{16}…, expected [0-9a-f]{16}…\n$/);
  });

  it('says there is nothing to cache for a target without artifacts', async () => {
    const p = await project(CATALOGUE);
    const r = await run(['alpha', 'cache', '--check', ...p.flags], p.root);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('target alpha has no artifacts: nothing to cache');
  });
});
