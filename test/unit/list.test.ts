import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureStreams } from './streams.js';
import { useTempDirs } from './tmpdir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tempDir = useTempDirs('g3-list-');

/** A catalogue with a template target (image and tags set), an artifact-only target and a broken template. */
async function catalogue(): Promise<string> {
  const dir = await tempDir();
  await mkdir(path.join(dir, 'templates'), { recursive: true });
  await writeFile(
    path.join(dir, 'templates', 'ok.yml'),
    'image: {name: g3-ok, version: "1"}\ntarget: {os: debian, dist: debian13, arch: x86_64, imageType: raw}\nsystemConfig: {name: ok}\n',
  );
  await writeFile(
    path.join(dir, 'templates', 'bad.yml'),
    'image: {name: g3-bad, version: "1"}\ntarget: {os: plan9, dist: four, arch: x86_64, imageType: raw}\nsystemConfig: {name: bad}\n',
  );
  const file = path.join(dir, 'targets.yml');
  await writeFile(
    file,
    [
      'targets:',
      '  edge:',
      '    description: an image target',
      '    template: templates/ok.yml',
      '    registry: 127.0.0.1:5000',
      '    image: team/edge',
      '    tags: [edge, "1.0"]',
      '  tools:',
      '    artifacts:',
      '      - {section: s, file: a.deb, url: "http://127.0.0.1:9/a.deb", sha256: "' + 'a'.repeat(64) + '"}',
      '  broken:',
      '    template: templates/bad.yml',
      '',
    ].join('\n'),
  );
  return file;
}

async function list(file: string, ...flags: string[]) {
  const { text, streams } = captureStreams();
  const code = await main(['list', '--targets', file, ...flags], {
    ...streams,
    env: { G3_LOG_FILE: 'none', G3_MIRROR: 'http://127.0.0.1:9/debian', G3_SECURITY_MIRROR: 'http://127.0.0.1:9/security' },
    cwd: ROOT,
    projectRoot: ROOT,
    prog: 'builder',
  });
  return { code, ...text };
}

describe('list', () => {
  it('prints every target with its template, provider id and image references; a template that does not load makes the exit code 1', async () => {
    const r = await list(await catalogue());
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TARGET\s+TEMPLATE\s+PROVIDER\s+IMAGE$/);
    expect(lines[1]).toMatch(/^edge\s+templates\/ok\.yml\s+debian-debian13-x86_64\s+127\.0\.0\.1:5000\/team\/edge:edge 127\.0\.0\.1:5000\/team\/edge:1\.0$/);
    expect(lines[2]).toMatch(/^tools\s+-\s+-\s+1 artifact\(s\)$/);
    expect(lines[3]).toMatch(/^broken\s+templates\/bad\.yml\s+error\s+.*plan9/);
    expect(r.stderr).toContain('3 target(s) in');
    expect(r.stderr).toContain('1 with a template that does not load');
  });

  it('--json gives one document with each target', async () => {
    const r = await list(await catalogue(), '--json');
    const doc = JSON.parse(r.stdout) as {
      command: string;
      targets: { name: string; providerId?: string; image?: { registry?: string; tags: string[] }; locked: boolean; error?: string }[];
    };
    expect(doc.command).toBe('list');
    expect(doc.targets.map((t) => t.name)).toEqual(['edge', 'tools', 'broken']);
    expect(doc.targets[0]).toMatchObject({
      providerId: 'debian-debian13-x86_64',
      image: { registry: '127.0.0.1:5000', repository: 'team/edge', tags: ['edge', '1.0'] },
      locked: false,
    });
    expect(doc.targets[1]?.image).toBeUndefined();
    expect(doc.targets[2]?.error).toContain('plan9');
  });

  it('keeps one row per target when a template path holds a newline and terminal controls', async () => {
    const file = await catalogue();
    await writeFile(file, `${await readFile(file, 'utf8')}  forged:\n    template: "templates/x\\nedge  templates/ok.yml  debian\\e[2J.yml"\n`);
    const r = await list(file);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatch(/^forged\s+templates\/x\\u000aedge {2}templates\/ok\.yml {2}debian\\u001b\[2J\.yml\s+error\s/);
    expect(r.stdout).not.toContain('\x1b');
  });

  it('refuses an argument after list with exit 2', async () => {
    const { text, streams } = captureStreams();
    const code = await main(['list', 'extra'], { ...streams, env: { G3_LOG_FILE: 'none' }, cwd: ROOT, projectRoot: ROOT, prog: 'builder' });
    expect(code).toBe(2);
    expect(text.stderr).toContain('unexpected argument "extra"');
  });
});
