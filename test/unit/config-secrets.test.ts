// Settings never leak what they read: a file named as the config file by
// mistake (or by a hostile .env) is named by file and line, never quoted; URL
// credentials in values are redacted in `config show`; only a missing .env or
// apt sources file is the same as an empty one.
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfig } from '../../src/cli/commands/config.js';
import { showConfig } from '../../src/commands/config.js';
import { type LoadInput, loadSettings } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { parseYaml, yamlProblem } from '../../src/yaml.js';
import { useTempDirs } from './tmpdir.js';
import { rejectionOf } from '../support/failure.js';

const tempDir = useTempDirs('g3-config-secrets-');
const SECRET = 'S3cr3tV4lue';

/** A project, a working directory and an apt root (also standing in for /etc), all empty. */
async function world(): Promise<{ root: string; input: LoadInput }> {
  const root = await tempDir();
  for (const d of ['project', 'cwd', 'apt']) await mkdir(path.join(root, d));
  const input: LoadInput = {
    projectRoot: path.join(root, 'project'),
    cwd: path.join(root, 'cwd'),
    env: { HOME: root },
    flags: {},
    aptRoot: path.join(root, 'apt'),
    configRoots: { etc: path.join(root, 'apt') },
  };
  return { root, input };
}

const failure = (p: Promise<unknown>) => rejectionOf(p, UserError);

describe('a config file is named by file and line, its text never quoted', () => {
  it.each([
    ['a block scalar header with extra text', `mirror: |${SECRET}\n  x\n`, 1],
    ['an invalid escape', `mirror: "x\\${SECRET}"\n`, 1],
    ['a reserved first character', `mirror: @${SECRET}\n`, 1],
    ['a stray closing bracket', `workers: 4\n]${SECRET}\n`, 2],
    ['a multi-line key', `workers: 4\n- ${SECRET}: x\n`, 2],
    ['an unterminated quote', `workers: 4\nmirror: "${SECRET}\n`, 3],
    ['a line of /etc/shadow', `root:$y$j9T$${SECRET}/x:19000:0:99999:7:::\n`, 1],
    ['an unknown key that is not a name', `"${SECRET} with spaces": 1\n`, 1],
    ['a value of the wrong kind', `workers: ${SECRET}\n`, 1],
    ['a value with an unknown tag', `workers: !${SECRET} x\n`, 1],
  ])('%s', async (_what, text, line) => {
    const { root, input } = await world();
    const file = path.join(root, 'not-a-config');
    await writeFile(file, text);
    const err = await failure(loadSettings({ ...input, env: { ...input.env, G3_CONFIG: file } }));
    expect(err.message).toContain(`${file}:${line}`);
    expect(`${err.message} ${err.hint}`).not.toContain(SECRET);
  });

  it("follows G3_CONFIG from a repository's .env to a password file without printing a line of it", async () => {
    const { root, input } = await world();
    const shadow = path.join(root, 'shadow');
    await writeFile(shadow, `root:$y$j9T$${SECRET}/x:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n`);
    await writeFile(path.join(input.projectRoot, '.env'), `G3_CONFIG=${shadow}\n`);
    const err = await failure(loadSettings(input));
    expect(err.message).toBe(`${shadow}:1: a key that is not a setting name (not shown)`);
    expect(`${err.message} ${err.hint}`).not.toContain(SECRET);
  });

  it('still names an unknown key that looks like a setting, with a suggestion', async () => {
    const { root, input } = await world();
    await writeFile(path.join(root, 'cwd', 'g3-composer.yml'), 'workres: 4\n');
    const err = await failure(loadSettings(input));
    expect(err.message).toBe(`${path.join(root, 'cwd', 'g3-composer.yml')}:1: unknown setting "workres"`);
    expect(err.hint).toMatch(/^Did you mean "workers"\?/);
  });

  it('refuses a file larger than any config file without parsing it', async () => {
    const { root, input } = await world();
    const file = path.join(root, 'big');
    await writeFile(file, `mirror: |${SECRET}\n`);
    await truncate(file, 300 * 1024);
    const err = await failure(loadSettings({ ...input, flags: { config: file } }));
    expect(err.message).toBe(`config file ${file} is larger than 256 KiB: not a config file`);
  });
});

describe('yamlProblem', () => {
  it.each([
    [{ code: 'UNEXPECTED_TOKEN', message: `Unexpected scalar token in YAML stream: "${SECRET}"` }, 'Unexpected scalar token in YAML stream'],
    [{ code: 'UNEXPECTED_TOKEN', message: `Block scalar header includes extra characters: |${SECRET}` }, 'Block scalar header includes extra characters'],
    [{ code: 'MISSING_CHAR', message: 'Missing space after : in flow map' }, 'Missing space after : in flow map'],
    [{ code: 'MISSING_CHAR', message: 'Missing closing "quote' }, 'Missing closing "quote'],
    [{ code: 'BAD_DQ_ESCAPE', message: `Invalid escape sequence \\${SECRET}` }, 'an invalid escape sequence in a double-quoted string'],
    [{ code: 'TAG_RESOLVE_FAILED', message: `Unresolved tag: !${SECRET}` }, 'a tag that is not known'],
    [{ code: 'BAD_INDENT', message: 'All mapping items must start at the same column\n\n  x\n  ^' }, 'All mapping items must start at the same column'],
  ] as const)('says %j without the text', (err, want) => {
    expect(yamlProblem(err)).toBe(want);
  });

  it('keeps the line of the first problem of any file it parses', () => {
    expect(() => parseYaml(`a: 1\nb: |${SECRET}\n  x\n`, 'x.yml')).toThrow(/^x\.yml:2: malformed YAML: Block scalar header includes extra characters$/);
  });
});

describe('config show redacts credentials in values', () => {
  it('hides URL user info and credential-like query values, and renders controls escaped', async () => {
    const { input } = await world();
    const env = {
      ...input.env,
      G3_MIRROR: `https://user:${SECRET}@127.0.0.1:9/debian?token=${SECRET}&v=1`,
      G3_SECURITY_MIRROR: `https://${SECRET}@127.0.0.1:9/s\u001b[2J`,
    };
    const r = await showConfig({ ...input, env });
    const value = (key: string) => r.settings.find((s) => s.key === key)?.value;
    expect(value('mirror')).toBe('https://***@127.0.0.1:9/debian?token=***&v=1');
    expect(value('security_mirror')).toBe('https://***@127.0.0.1:9/s\u001b[2J');
    const text = renderConfig(r);
    expect(text).toMatch(/^security_mirror +https:\/\/\*\*\*@127\.0\.0\.1:9\/s\\u001b\[2J +env G3_SECURITY_MIRROR$/m);
    expect(text).not.toContain(SECRET);
  });
});

describe('only a missing file reads as nothing', () => {
  it('refuses a .env it cannot read instead of ignoring it', async () => {
    const { input } = await world();
    await mkdir(path.join(input.projectRoot, '.env'));
    const err = await failure(loadSettings(input));
    expect(err.message).toBe(`cannot read ${path.join(input.projectRoot, '.env')}: EISDIR`);
  });

  it.each([
    ['sources.list', 'etc/apt/sources.list', 'EISDIR'],
    ['a .sources file', 'etc/apt/sources.list.d/x.sources', 'EISDIR'],
  ])('refuses apt sources it cannot read (%s) when it needs the mirrors from them', async (_what, rel, code) => {
    const { input } = await world();
    await mkdir(path.join(input.aptRoot as string, rel), { recursive: true });
    const err = await failure(loadSettings(input));
    expect(err.message).toBe(`cannot read the apt sources ${path.join(input.aptRoot as string, rel)}: ${code}`);
    expect(err.hint).toMatch(/set G3_MIRROR and G3_SECURITY_MIRROR/);
  });

  it('does not read the apt sources when both mirrors are configured', async () => {
    const { input } = await world();
    await mkdir(path.join(input.aptRoot as string, 'etc/apt/sources.list'), { recursive: true });
    const s = await loadSettings({ ...input, env: { ...input.env, G3_MIRROR: 'http://127.0.0.1:9/d', G3_SECURITY_MIRROR: 'http://127.0.0.1:9/s' } });
    expect(s.mirror).toBe('http://127.0.0.1:9/d');
  });

  it('reads nothing from a missing apt configuration or .env', async () => {
    const { input } = await world();
    const s = await loadSettings(input);
    expect([s.mirror, s.securityMirror, s.workers]).toEqual([undefined, undefined, 12]);
  });
});
