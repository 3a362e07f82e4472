import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findConfigFile, readConfigFile } from '../../src/config/file.js';
import { loadSettings, type Settings } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/schema.js';
import { UserError } from '../../src/errors.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-config-file-');
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A temp tree standing in for the machine: project (with .env), cwd, home, and a replacement for /etc. */
interface World {
  root: string;
  project: string;
  cwd: string;
  home: string;
  etc: string;
}

interface Setup {
  flags?: Record<string, string | boolean>;
  env?: Record<string, string>;
  dotenv?: string;
  /** Files by path relative to the world root, e.g. 'etc/g3-composer/config.yml'. */
  files?: Record<string, string>;
}

const ETC_FILE = 'etc/g3-composer/config.yml';
const HOME_FILE = 'home/.config/g3-composer/config.yml';
const CWD_FILE = 'cwd/g3-composer.yml';

async function world(files: Record<string, string> = {}): Promise<World> {
  const root = await tempDir();
  const w = { root, project: path.join(root, 'project'), cwd: path.join(root, 'cwd'), home: path.join(root, 'home'), etc: path.join(root, 'etc') };
  for (const d of [w.project, w.cwd, w.home, w.etc]) await mkdir(d, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  }
  return w;
}

function inputFor(w: World, c: Setup) {
  return { projectRoot: w.project, cwd: w.cwd, env: { HOME: w.home, ...c.env }, flags: c.flags ?? {}, aptRoot: w.root, configRoots: { etc: w.etc } };
}

async function load(c: Setup = {}): Promise<{ s: Settings; w: World }> {
  const w = await world({ ...c.files, ...(c.dotenv === undefined ? {} : { 'project/.env': c.dotenv }) });
  return { s: await loadSettings(inputFor(w, c)), w };
}

async function loadError(c: Setup): Promise<{ err: UserError; w: World }> {
  const w = await world({ ...c.files, ...(c.dotenv === undefined ? {} : { 'project/.env': c.dotenv }) });
  const err = await loadSettings(inputFor(w, c)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return { err: err as UserError, w };
}

describe('precedence: flags > environment > .env > config file > defaults', () => {
  // Every layer is set below the one under test, so each row shows one layer beating the next.
  const all = { flags: { workers: '3' }, env: { G3_WORKERS: '4' }, dotenv: 'G3_WORKERS=5\n', files: { [ETC_FILE]: '# workers\nworkers: 6\n' } };
  it.each([
    ['a flag beats the environment', all, 3, 'flag', () => '--workers'],
    ['the environment beats .env', { ...all, flags: {} }, 4, 'env', () => 'G3_WORKERS'],
    ['.env beats the config file', { ...all, flags: {}, env: {} }, 5, '.env', () => 'G3_WORKERS'],
    ['the config file beats the default', { files: all.files }, 6, 'config', (w: World) => `${path.join(w.root, ETC_FILE)}:2`],
    ['the default applies when nothing is set', {}, 12, 'default', () => undefined],
  ] as const)('workers (an int): %s', async (_what, c, workers, source, from) => {
    const { s, w } = await load(c);
    expect(s.workers).toBe(workers);
    expect(s.values.workers.source).toBe(source);
    expect(s.values.workers.from).toBe(from(w));
  });

  const paths = { flags: { 'cache-dir': 'f' }, env: { G3_CACHE_DIR: 'e' }, dotenv: 'G3_CACHE_DIR=d\n', files: { [ETC_FILE]: 'cache_dir: c\n' } };
  it.each([
    ['a flag beats the environment, relative to the working directory', paths, (w: World) => path.join(w.cwd, 'f'), 'flag'],
    ['the environment beats .env, relative to the working directory', { ...paths, flags: {} }, (w: World) => path.join(w.cwd, 'e'), 'env'],
    ['.env beats the config file, relative to the project', { ...paths, flags: {}, env: {} }, (w: World) => path.join(w.project, 'd'), '.env'],
    ['the config file beats the default, relative to the config file', { files: paths.files }, (w: World) => path.join(w.etc, 'g3-composer', 'c'), 'config'],
    ['the default applies when nothing is set, relative to the project', {}, (w: World) => path.join(w.project, 'cache'), 'default'],
  ] as const)('cache_dir (a path): %s', async (_what, c, want, source) => {
    const { s, w } = await load(c);
    expect(s.cacheDir).toBe(want(w));
    expect(s.values.cache_dir.source).toBe(source);
  });

  it('takes each key from the highest layer that sets it, mixing layers', async () => {
    const { s } = await load({ env: { G3_WORKERS: '2' }, files: { [ETC_FILE]: 'workers: 6\nretries: 7\noffline: true\n' } });
    expect(s).toMatchObject({ workers: 2, retries: 7, offline: true });
    expect([s.values.workers.source, s.values.retries.source, s.values.offline.source]).toEqual(['env', 'config', 'config']);
  });
});

describe('config file search', () => {
  const marker = (n: number) => `workers: ${n}\n`;
  it.each([
    ['--config over G3_CONFIG and every default place', { flags: { config: '../named.yml' }, env: { G3_CONFIG: '../env.yml' } }, 'named.yml', 1],
    ['G3_CONFIG over ./g3-composer.yml', { env: { G3_CONFIG: '../env.yml' } }, 'env.yml', 2],
    ['G3_CONFIG from .env over ./g3-composer.yml', { dotenv: 'G3_CONFIG=../env.yml\n' }, 'env.yml', 2],
    ['./g3-composer.yml over the home config', {}, CWD_FILE, 3],
    ['~/.config/g3-composer/config.yml over /etc', { skip: [CWD_FILE] }, HOME_FILE, 4],
    ['/etc/g3-composer/config.yml last', { skip: [CWD_FILE, HOME_FILE] }, ETC_FILE, 5],
  ] as const)('finds %s', async (_what, c, file, workers) => {
    const files: Record<string, string> = {
      'named.yml': marker(1),
      'env.yml': marker(2),
      [CWD_FILE]: marker(3),
      [HOME_FILE]: marker(4),
      [ETC_FILE]: marker(5),
    };
    for (const f of ('skip' in c ? c.skip : []) as string[]) delete files[f];
    const { s, w } = await load({ ...c, files });
    expect(s.configFile).toBe(path.join(w.root, file));
    expect(s.workers).toBe(workers);
  });

  it('honours an absolute XDG_CONFIG_HOME instead of ~/.config', async () => {
    const w = await world({ [HOME_FILE]: marker(4), 'xdg/g3-composer/config.yml': marker(9) });
    const s = await loadSettings(inputFor(w, { env: { XDG_CONFIG_HOME: path.join(w.root, 'xdg') } }));
    expect(s.configFile).toBe(path.join(w.root, 'xdg/g3-composer/config.yml'));
    expect(s.workers).toBe(9);
  });

  it('ignores a relative XDG_CONFIG_HOME, as the XDG spec says', async () => {
    const { s, w } = await load({ env: { XDG_CONFIG_HOME: 'rel' }, files: { [HOME_FILE]: marker(4), 'cwd/rel/g3-composer/config.yml': marker(9) } });
    expect(s.configFile).toBe(path.join(w.root, HOME_FILE));
  });

  it('runs without a config file, and reports the places it looked', async () => {
    const w = await world();
    const found = await findConfigFile(inputFor(w, {}));
    expect(found).toEqual({
      file: undefined,
      searched: [path.join(w.cwd, 'g3-composer.yml'), path.join(w.root, HOME_FILE), path.join(w.root, ETC_FILE)],
    });
    expect((await loadSettings(inputFor(w, {}))).configFile).toBeUndefined();
  });

  it.each([
    ['--config', { flags: { config: 'nope.yml' } }, 'from --config'],
    ['G3_CONFIG', { env: { G3_CONFIG: 'nope.yml' } }, 'from G3_CONFIG (env)'],
  ] as const)('refuses a file named by %s that does not exist', async (_what, c, by) => {
    const { err, w } = await loadError(c);
    expect(err.message).toBe(`config file ${path.join(w.cwd, 'nope.yml')} (${by}) does not exist`);
    expect(err.hint).toContain('g3-composer.example.yml');
  });

  it('refuses a directory in a place it searches instead of skipping it', async () => {
    const w = await world();
    await mkdir(path.join(w.cwd, 'g3-composer.yml'));
    await expect(loadSettings(inputFor(w, {}))).rejects.toThrow(`config file ${path.join(w.cwd, 'g3-composer.yml')} is not a regular file`);
  });
});

describe('config file contents', () => {
  it('resolves relative paths against the directory of the config file', async () => {
    const text = 'targets: conf/t.yml\ng3_cache: gc\nshared_cache: ../shared\nwork_dir: wd\ntemp_dir: tmp\nlog_file: logs/run.log\n';
    const { s, w } = await load({ flags: { config: '../conf.d/g3.yml' }, files: { 'conf.d/g3.yml': text } });
    const dir = path.join(w.root, 'conf.d');
    expect(s).toMatchObject({
      targets: path.join(dir, 'conf/t.yml'),
      g3Cache: path.join(dir, 'gc'),
      sharedCache: path.join(w.root, 'shared'),
      workDir: path.join(dir, 'wd'),
      tempDir: path.join(dir, 'tmp'),
      logFile: path.join(dir, 'logs/run.log'),
    });
  });

  it('takes YAML numbers and booleans, and quoted strings, for ints and bools', async () => {
    const { s } = await load({ files: { [CWD_FILE]: 'workers: 4\nretries: "2"\noffline: true\nprivileged: "yes"\nignore_valid_until: 0\n' } });
    expect(s).toMatchObject({ workers: 4, retries: 2, offline: true, privileged: true, ignoreValidUntil: false });
  });

  it.each([
    ['an empty file', ''],
    ['only comments', '# nothing here\n'],
    ['keys without values', 'workers:\nmirror: ""\n'],
  ])('treats %s as setting nothing', async (_what, text) => {
    const { s } = await load({ files: { [CWD_FILE]: text } });
    expect(s.workers).toBe(12);
    expect(s.values.workers.source).toBe('default');
  });

  it.each([
    ['malformed YAML', 'offline: false\nworkers: 4: 5\n', /g3-composer\.yml:2: malformed YAML: /],
    ['a tab for indentation', 'offline: false\n\tworkers: 4\n', /g3-composer\.yml:2: malformed YAML: /],
    ['a duplicate key', 'workers: 4\nworkers: 5\n', /g3-composer\.yml:2: malformed YAML/],
    ['a list at the top level', '- workers\n', /g3-composer\.yml:1: a config file is a mapping of settings \(key: value\), not a list$/],
    ['a scalar at the top level', 'workers\n', /g3-composer\.yml:1: a config file is a mapping of settings \(key: value\), not a string$/],
  ])('refuses %s, naming the file and line', async (_what, text, message) => {
    const { err, w } = await loadError({ files: { [CWD_FILE]: text } });
    expect(err.message).toMatch(message);
    expect(err.message).toContain(path.join(w.cwd, 'g3-composer.yml'));
  });

  it.each([
    ['worker', 'workers'],
    ['cache-dir', 'cache_dir'],
    ['G3_WORKERS', 'workers'],
    ['SHARED_G3_CACHE_PATH', 'shared_cache'],
  ])('refuses the unknown key %s and suggests %s', async (key, near) => {
    const { err, w } = await loadError({ files: { [CWD_FILE]: `offline: false\n${key}: 4\n` } });
    expect(err.message).toBe(`${path.join(w.cwd, 'g3-composer.yml')}:2: unknown setting "${key}"`);
    expect(err.hint).toMatch(new RegExp(`^Did you mean "${near}"\\? Settings: targets, `));
  });

  it('lists the settings without a guess for a key nothing like one', async () => {
    const { err } = await loadError({ files: { [CWD_FILE]: 'colour_scheme: dark\n' } });
    expect(err.hint).toMatch(/^Settings: targets, g3_cache, /);
  });

  it.each([
    ['workers', 'true', 'a whole number, got boolean true'],
    ['workers', '[1, 2]', 'a whole number, got a list'],
    ['offline', '2', 'true or false, got number 2'],
    ['mirror', '{ url: x }', 'a string, got a mapping'],
    ['cache_dir', '5', 'a path (a string), got number 5'],
  ])('refuses %s: %s as the wrong type, naming key, file and line', async (key, value, detail) => {
    const { err, w } = await loadError({ files: { [CWD_FILE]: `# settings\n\n${key}: ${value}\n` } });
    expect(err.message).toBe(`invalid ${key} from ${path.join(w.cwd, 'g3-composer.yml')}:3 (config file): expected ${detail}`);
  });
});

describe('invalid values name the key and the source', () => {
  // A value typed on the command line or set in the environment is quoted back; one read from a file is
  // named by file (and line) only, so a file named by mistake is never echoed.
  it.each([
    ['a flag', { flags: { workers: 'abc' } }, () => 'workers "abc" from --workers (flag)'],
    ['the environment', { env: { G3_WORKERS: 'abc' } }, () => 'workers "abc" from G3_WORKERS (env)'],
    ['.env', { dotenv: 'G3_WORKERS=abc\n' }, () => 'workers from G3_WORKERS (.env)'],
    [
      'the config file',
      { files: { [CWD_FILE]: 'offline: false\nworkers: abc\n' } },
      (w: World) => `workers from ${path.join(w.cwd, 'g3-composer.yml')}:2 (config file)`,
    ],
  ] as const)('workers "abc" from %s', async (_what, c, where) => {
    const { err, w } = await loadError(c);
    expect(err.message).toBe(`invalid ${where(w)}: expected a whole number from 1 to 64`);
    expect(err.hint).toMatch(/^Fix/);
  });

  it.each([
    [
      'a flag',
      { flags: { scratch: 'https://u:s3cr3t@127.0.0.1/x?token=s3cr3t\u001b[2J' } },
      'invalid scratch "https://***@127.0.0.1/x?token=***" from --scratch (flag)',
    ],
    [
      'the environment',
      { env: { G3_SCRATCH: 'https://u:s3cr3t@127.0.0.1/x?sig=s3cr3t&v=1\n' } },
      'invalid scratch "https://***@127.0.0.1/x?sig=***&v=1\\u000a" from G3_SCRATCH (env)',
    ],
  ] as const)('quotes a bad value from %s with its user info and token redacted and controls escaped', async (_what, c, head) => {
    const { err } = await loadError(c);
    expect(err.message).toBe(`${head}: expected one of auto, tmpfs, disk`);
  });

  it.each([
    ['workers: 0', 'invalid workers', 'expected a whole number from 1 to 64'],
    ['workers: 2.5', 'invalid workers', 'expected a whole number from 1 to 64'],
    ['offline: maybe', 'invalid offline', 'expected 1/0, true/false, yes/no'],
    ['scratch: ram', 'invalid scratch', 'expected one of auto, tmpfs, disk'],
    ['log_level: verbose', 'invalid log_level', 'expected one of error, warn, info, debug'],
    ['registry: http://127.0.0.1:5000', 'invalid registry', 'expected host[:port] without a scheme or path, e.g. 127.0.0.1:5000'],
  ])('refuses "%s" in the config file, naming key, file and line but not the value', async (line, head, detail) => {
    const { err, w } = await loadError({ files: { [CWD_FILE]: `${line}\n` } });
    expect(err.message).toBe(`${head} from ${path.join(w.cwd, 'g3-composer.yml')}:1 (config file): ${detail}`);
  });
});

describe('temp_dir, log_level, log_file and registry', () => {
  it('defaults: the temp dir from TMPDIR, info, a log under the work dir, no registry', async () => {
    const { s, w } = await load({ env: { TMPDIR: '/var/tmp/' } });
    expect(s).toMatchObject({
      tempDir: '/var/tmp',
      logLevel: 'info',
      logFile: path.join(w.project, 'workspace', 'logs', 'g3-composer.log'),
      registry: undefined,
    });
    expect(s.values.log_file.source).toBe('derived');
  });

  it('falls back to /tmp without TMPDIR', async () => {
    expect((await load()).s.tempDir).toBe('/tmp');
  });

  it('puts the default log under a configured work dir', async () => {
    const { s, w } = await load({ flags: { 'work-dir': 'wd' } });
    expect(s.logFile).toBe(path.join(w.cwd, 'wd', 'logs', 'g3-composer.log'));
  });

  it.each([
    ['-', { env: { G3_LOG_FILE: '-' } }],
    ['none in .env', { dotenv: 'G3_LOG_FILE=none\n' }],
    ['none in the config file', { files: { [CWD_FILE]: 'log_file: none\n' } }],
  ])('turns the run log off with %s', async (_what, c) => {
    const { s } = await load(c);
    expect(s.logFile).toBeUndefined();
    expect(s.effective.log_file).toBeUndefined();
  });

  it.each(['127.0.0.1:5000', 'localhost', 'registry.internal:443', '[::1]:5000'])('takes the registry %s', async (registry) => {
    expect((await load({ env: { G3_REGISTRY: registry } })).s.registry).toBe(registry);
  });

  it.each(['127.0.0.1:5000/path', 'host name', ':5000'])('refuses the registry %s', async (registry) => {
    const { err } = await loadError({ env: { G3_REGISTRY: registry } });
    expect(err.message).toMatch(/^invalid registry ".*" from G3_REGISTRY \(env\): expected host\[:port\]/);
  });

  it('takes log_level from the environment', async () => {
    expect((await load({ env: { G3_LOG_LEVEL: 'debug' } })).s.logLevel).toBe('debug');
  });
});

describe('g3-composer.example.yml', () => {
  const file = path.join(repoRoot, 'g3-composer.example.yml');

  it.each(SETTINGS.map((s) => s.key))('documents %s', async (key) => {
    expect(await readFile(file, 'utf8')).toMatch(new RegExp(`^#${key}: `, 'm'));
  });

  it('is a valid config file with every key uncommented', async () => {
    const text = (await readFile(file, 'utf8')).replace(/^#([a-z0-9_]+: )/gm, '$1');
    const dir = await tempDir();
    await writeFile(path.join(dir, 'config.yml'), text);
    const read = await readConfigFile(path.join(dir, 'config.yml'));
    expect(Object.keys(read.values).sort()).toEqual(SETTINGS.map((s) => s.key).sort());
    const s = await loadSettings({ projectRoot: dir, cwd: dir, env: {}, flags: { config: 'config.yml' }, aptRoot: dir });
    expect(s.configFile).toBe(path.join(dir, 'config.yml'));
  });
});
