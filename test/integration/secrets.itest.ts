// Secrets stay secret, end to end: URL user info, credential-like query values
// and the contents of files the toolkit reads never reach stdout, stderr, the
// run log or any file the toolkit writes, whatever fails. Real CLI processes,
// a real origin on 127.0.0.1, real files and a real git repository.
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cache } from '../../src/commands/cache.js';
import { ociLabels } from '../../src/compose/images/composer-image.js';
import { loadSettings } from '../../src/config/load.js';
import { run } from '../../src/exec.js';
import { readState } from '../../src/pipeline/state.js';
import { makeProject, type Project, type RunResult, runBuilder } from '../support/project.js';
import { makeTemplateProject, type TemplateProject } from '../support/template-project.js';
import { useTempDirs } from '../unit/tmpdir.js';

const SECRET = 'S3cr3tV4lue';
/** What a password file looks like: a line of /etc/shadow. */
const SHADOW = `root:$y$j9T$${SECRET}/abc:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n`;
const tempDir = useTempDirs('g3-secrets-itest-');

/** Every regular file under `root` with its bytes as text, but the inputs the test itself wrote. */
async function writtenFiles(root: string, inputs: string[]): Promise<{ file: string; text: string }[]> {
  const out: { file: string; text: string }[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() && !inputs.includes(full)) out.push({ file: full, text: await readFile(full, 'latin1') });
    }
  };
  await walk(root);
  return out;
}

/** The secret is in none of the outputs of `runs` and none of the files written under `root` (the run log among them). */
async function expectNowhere(runs: RunResult[], root: string, inputs: string[], logFile: string): Promise<void> {
  for (const r of runs) {
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stderr).not.toContain(SECRET);
  }
  const files = await writtenFiles(root, inputs);
  expect(files.map((f) => f.file)).toContain(logFile);
  expect(files.filter((f) => f.text.includes(SECRET)).map((f) => f.file)).toEqual([]);
}

describe('a failing download whose URL carries a token', () => {
  let p: Project;
  beforeEach(async () => {
    p = await makeProject({ count: 2 });
  });
  afterEach(async () => p.cleanup());

  it('is named with the token redacted on stdout, stderr and in the run log, and the secret is in no file written', async () => {
    const [a, b] = p.files as [Project['files'][number], Project['files'][number]];
    // One URL the origin fails with 500, one that is not there.
    p.origin.fault(`/${a.section}/${a.file}`, { kind: 'status', status: 500 }, 100);
    const urls = [`${p.origin.url}/${a.section}/${a.file}?token=${SECRET}&arch=amd64`, `${p.origin.url}/nowhere/${b.file}?X-Amz-Signature=${SECRET}`];
    await writeFile(
      p.catalogue,
      `targets:\n  latest:\n    artifacts:\n${[a, b].map((f, i) => `      - section: ${f.section}\n        file: ${f.file}\n        url: "${urls[i]}"\n        sha256: ${f.sha256}\n        size: ${f.data.length}\n`).join('')}`,
    );
    const work = path.join(p.dir, 'work');
    const env = { ...p.env, G3_WORK_DIR: work, G3_RETRIES: '1', G3_LOG_LEVEL: 'debug' };
    const text = await runBuilder(['latest', 'cache', '--verbose'], env);
    const json = await runBuilder(['latest', 'cache', '--json'], env);
    expect([text.code, json.code]).toEqual([1, 1]);
    // The failure is still named: the origin, the path, and which parameter was hidden.
    expect(text.stderr).toContain(`error: ${a.section}/${a.file}: ${p.origin.url}/${a.section}/${a.file}?token=***&arch=amd64: HTTP 500`);
    expect(text.stderr).toContain(`/nowhere/${b.file}?X-Amz-Signature=***: HTTP 404`);
    expect(JSON.parse(json.stdout).failures.map((f: { url: string }) => f.url)).toEqual([urls[0]?.replace(SECRET, '***'), urls[1]?.replace(SECRET, '***')]);
    const logFile = path.join(work, 'logs', 'g3-composer.log');
    expect(await readFile(logFile, 'utf8')).toContain('?token=***&arch=amd64');
    await expectNowhere([text, json], p.dir, [p.catalogue], logFile);
  });
});

describe('the cache report and its events', () => {
  let p: Project;
  beforeEach(async () => {
    p = await makeProject({ count: 1 });
  });
  afterEach(async () => p.cleanup());

  it('carry a failed URL with its token redacted, for every caller (not only the terminal)', async () => {
    const [a] = p.files as [Project['files'][number]];
    await writeFile(
      p.catalogue,
      `targets:\n  latest:\n    artifacts:\n      - section: ${a.section}\n        file: ${a.file}\n        urls: ["${p.origin.url}/gone?token=${SECRET}", "${p.origin.url}/gone2?sig=${SECRET}"]\n        sha256: ${a.sha256}\n        size: ${a.data.length}\n`,
    );
    const settings = await loadSettings({
      projectRoot: p.dir,
      cwd: p.dir,
      env: { ...p.env, G3_RETRIES: '0' },
      flags: {},
      aptRoot: p.dir,
      configRoots: { etc: p.dir },
    });
    const events: unknown[] = [];
    const r = await cache({ settings, target: 'latest', check: false, verify: false, emit: (e) => events.push(e) });
    expect(r.mode).toBe('refresh');
    const report = (r as Extract<typeof r, { mode: 'refresh' }>).report;
    expect(report.failures.map((f) => f.url)).toEqual([`${p.origin.url}/gone?token=***`, `${p.origin.url}/gone2?sig=***`]);
    expect(JSON.stringify(events)).toContain('/gone?token=***');
    expect(JSON.stringify([report, events])).not.toContain(SECRET);
  });
});

describe('a template whose mirror carries credentials', () => {
  let t: TemplateProject;
  beforeEach(async () => {
    t = await makeTemplateProject();
    await t.writeRepo([]);
    await t.writeTemplate(['systemd-sysv']);
  });
  afterEach(async () => t.cleanup());

  it.each([
    [
      'user info (refused where it enters)',
      (url: string) => url.replace('http://', `http://user:${SECRET}@`),
      /packageRepositories\[0\]\.url must not embed credentials/,
    ],
    [
      'a token the mirror refuses',
      (url: string) => `${url}/nowhere?token=${SECRET}&x=`,
      /neither InRelease nor Release exists at http:\/\/127\.0\.0\.1:\d+\/nowhere\?token=\*\*\*&x=\/dists\/trixie/,
    ],
  ])('fails lock and cache with the mirror named, %s hidden, in no output, log or file', async (_what, mirror, message) => {
    const work = path.join(t.dir, 'work');
    const env = { ...t.env, G3_WORK_DIR: work, G3_LOG_LEVEL: 'debug', G3_MIRROR: mirror(t.origin.url) };
    const lock = await runBuilder(['img', 'lock', '--update', '--verbose'], env);
    const cache = await runBuilder(['img', 'cache', '--json'], env);
    expect(lock.code).not.toBe(0);
    expect(cache.code).not.toBe(0);
    expect(lock.stderr).toMatch(message);
    await expectNowhere([lock, cache], t.dir, [], path.join(work, 'logs', 'g3-composer.log'));
  });

  it('refuses a lock file that is a link to a token file without quoting it', async () => {
    const secretFile = path.join(t.dir, 'ci-token');
    await writeFile(secretFile, `${SECRET}\n`);
    await symlink(secretFile, t.lockFile);
    const r = await runBuilder(['img', 'cache'], { ...t.env, G3_WORK_DIR: path.join(t.dir, 'work') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`lock file ${t.lockFile} is not valid JSON`);
    expect(r.stderr).not.toContain(SECRET);
  });
});

describe('settings that carry credentials or name the wrong file', () => {
  let p: Project;
  beforeEach(async () => {
    p = await makeProject({ count: 1 });
  });
  afterEach(async () => p.cleanup());

  it('config show (text and --json) prints mirror URLs with user info and token redacted', async () => {
    const env = { ...p.env, G3_MIRROR: `https://user:${SECRET}@127.0.0.1:9/debian?token=${SECRET}`, G3_SECURITY_MIRROR: `https://${SECRET}@127.0.0.1:9/sec` };
    const text = await runBuilder(['config', 'show'], env);
    const json = await runBuilder(['config', 'show', '--json'], env);
    expect([text.code, json.code]).toEqual([0, 0]);
    expect(text.stdout).toMatch(/^mirror +https:\/\/\*\*\*@127\.0\.0\.1:9\/debian\?token=\*\*\* +env G3_MIRROR$/m);
    expect(JSON.parse(json.stdout).settings.security_mirror).toEqual({ value: 'https://***@127.0.0.1:9/sec', source: 'env', from: 'G3_SECURITY_MIRROR' });
    for (const r of [text, json]) expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
  });

  it.each([
    ['a password file', SHADOW],
    ['malformed YAML', `workers: 4\nmirror: |${SECRET}\n  x\n`],
    ['a value of the wrong kind', `workers: ${SECRET}\n`],
    ['a key that is not a setting name', `"${SECRET} with spaces": 1\n`],
  ])('G3_CONFIG naming %s exits 2 naming file and line, never its contents', async (_what, content) => {
    const file = path.join(p.dir, 'not-a-config');
    await writeFile(file, content);
    const r = await runBuilder(['latest', 'cache'], { ...p.env, G3_WORK_DIR: path.join(p.dir, 'work'), G3_CONFIG: file });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${file}:\\d+`));
    expect(r.stderr).not.toContain(SECRET);
    expect(r.stdout).toBe('');
  });
});

describe('what the pipeline records', () => {
  it('labels the image with the git remote without its user info or token', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, 'package.json'), '{"version": "1.2.3"}\n');
    await run({ command: 'git', args: ['-C', root, 'init', '-q'] });
    await run({ command: 'git', args: ['-C', root, 'remote', 'add', 'origin', `https://ci:${SECRET}@127.0.0.1/team/g3.git?private_token=${SECRET}`] });
    const labels = await ociLabels(root, { SOURCE_COMMIT: 'abc' }, new Date(0));
    expect(labels['org.opencontainers.image.source']).toBe('https://127.0.0.1/team/g3.git?private_token=***');
    expect(JSON.stringify(labels)).not.toContain(SECRET);
  });

  it('ignores a step record that is not JSON with a warning that does not quote it', async () => {
    const work = await tempDir();
    await mkdir(path.join(work, '.g3-pipeline', 'img'), { recursive: true });
    const file = path.join(work, '.g3-pipeline', 'img', 'pre_build.json');
    await writeFile(file, SHADOW);
    const warnings: string[] = [];
    expect(await readState(work, 'img', 'pre_build', (m) => warnings.push(m))).toBeUndefined();
    expect(warnings).toEqual([`ignoring ${file}: it is not valid JSON`]);
  });
});
