import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-config-');

interface Case {
  flags?: Record<string, string | boolean>;
  env?: Record<string, string | undefined>;
  dotenv?: string;
  /** Written to <aptRoot>/etc/apt/sources.list.d/x.sources */
  aptSources?: string;
}

/** loadSettings with a temp project root (holding the .env), a temp cwd and a temp apt root (also the /etc of config files). */
async function load(c: Case = {}): Promise<{ s: Settings; projectRoot: string; cwd: string }> {
  const projectRoot = await tempDir();
  const cwd = await tempDir();
  const aptRoot = await tempDir();
  if (c.dotenv !== undefined) await writeFile(path.join(projectRoot, '.env'), c.dotenv);
  if (c.aptSources !== undefined) {
    await mkdir(path.join(aptRoot, 'etc/apt/sources.list.d'), { recursive: true });
    await writeFile(path.join(aptRoot, 'etc/apt/sources.list.d/x.sources'), c.aptSources);
  }
  // The temp apt root also stands in for /etc, so no real config file is read.
  const s = await loadSettings({ projectRoot, env: c.env ?? {}, flags: c.flags ?? {}, cwd, aptRoot, configRoots: { etc: aptRoot } });
  return { s, projectRoot, cwd };
}

async function loadError(c: Case): Promise<UserError> {
  try {
    await load(c);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected loadSettings to throw');
}

describe('loadSettings precedence', () => {
  it.each([
    ['a flag over env and .env', { flags: { workers: '3' }, env: { G3_WORKERS: '4' }, dotenv: 'G3_WORKERS=5\n' }, 3, 'flag', '--workers'],
    ['the environment over .env', { env: { G3_WORKERS: '4' }, dotenv: 'G3_WORKERS=5\n' }, 4, 'env', 'G3_WORKERS'],
    ['.env over the default', { dotenv: 'G3_WORKERS=5\n' }, 5, '.env', 'G3_WORKERS'],
    ['.env when the environment value is empty', { env: { G3_WORKERS: '' }, dotenv: 'G3_WORKERS=5\n' }, 5, '.env', 'G3_WORKERS'],
    ['the default when nothing is set', {}, 12, 'default', undefined],
    ['the default when .env sets it empty', { dotenv: 'G3_WORKERS=\n' }, 12, 'default', undefined],
  ] as const)('takes workers from %s', async (_what, c, workers, source, from) => {
    const { s } = await load(c);
    expect(s.workers).toBe(workers);
    expect(s.values.workers.source).toBe(source);
    expect(s.values.workers.from).toBe(from);
  });

  it.each([
    ['the --offline flag', { flags: { offline: true } }, true, 'flag'],
    ['G3_OFFLINE=1 in the environment', { env: { G3_OFFLINE: '1' } }, true, 'env'],
    ['G3_OFFLINE=yes in .env', { dotenv: 'G3_OFFLINE=yes\n' }, true, '.env'],
    ['G3_OFFLINE=off in the environment over .env', { env: { G3_OFFLINE: 'off' }, dotenv: 'G3_OFFLINE=1\n' }, false, 'env'],
    ['the default', {}, false, 'default'],
  ] as const)('takes offline from %s', async (_what, c, offline, source) => {
    const { s } = await load(c);
    expect(s.offline).toBe(offline);
    expect(s.values.offline.source).toBe(source);
  });

  it('does not copy .env values into the environment it was given', async () => {
    const env: Record<string, string> = {};
    const projectRoot = await tempDir();
    await writeFile(path.join(projectRoot, '.env'), 'G3_WORKERS=5\n');
    const root = await tempDir();
    await loadSettings({ projectRoot, env, flags: {}, cwd: projectRoot, aptRoot: root, configRoots: { etc: root } });
    expect(env).toEqual({});
  });

  it.each([
    ['SHARED_G3_CACHE_PATH over G3_SHARED_CACHE', { SHARED_G3_CACHE_PATH: '/srv/a', G3_SHARED_CACHE: '/srv/b' }, '/srv/a', 'SHARED_G3_CACHE_PATH'],
    ['G3_SHARED_CACHE alone', { G3_SHARED_CACHE: '/srv/b' }, '/srv/b', 'G3_SHARED_CACHE'],
    ['G3_SHARED_CACHE when SHARED_G3_CACHE_PATH is empty', { SHARED_G3_CACHE_PATH: '', G3_SHARED_CACHE: '/srv/b' }, '/srv/b', 'G3_SHARED_CACHE'],
  ])('takes the shared cache from %s', async (_what, env, dir, from) => {
    const { s } = await load({ env });
    expect(s.sharedCache).toBe(dir);
    expect(s.values.shared_cache).toEqual({ raw: dir, source: 'env', from });
  });

  it('takes the shared cache flag over both environment names', async () => {
    const { s } = await load({ flags: { 'shared-cache': '/srv/flag' }, env: { SHARED_G3_CACHE_PATH: '/srv/a', G3_SHARED_CACHE: '/srv/b' } });
    expect(s.sharedCache).toBe('/srv/flag');
    expect(s.values.shared_cache.from).toBe('--shared-cache');
  });

  it('has no shared cache by default', async () => {
    const { s } = await load();
    expect(s.sharedCache).toBeUndefined();
  });

  it('converts seconds to milliseconds for the timeout and lock staleness', async () => {
    const { s } = await load({ env: { G3_HTTP_TIMEOUT: '7', G3_LOCK_STALE: '9', G3_RETRIES: '0', G3_RETRY_BACKOFF_MS: '25' } });
    expect(s).toMatchObject({ httpTimeoutMs: 7000, lockStaleMs: 9000, retries: 0, retryBackoffMs: 25 });
  });

  it('gives the download bounds in bytes, with their documented defaults', async () => {
    expect((await load()).s).toMatchObject({ httpMinSpeed: 1024, maxDownloadBytes: 4096 * 1024 * 1024, maxIndexBytes: 256 * 1024 * 1024 });
    const { s } = await load({ env: { G3_HTTP_MIN_SPEED: '0', G3_MAX_DOWNLOAD_MIB: '2', G3_MAX_INDEX_MIB: '3' } });
    expect(s).toMatchObject({ httpMinSpeed: 0, maxDownloadBytes: 2 * 1024 * 1024, maxIndexBytes: 3 * 1024 * 1024 });
  });
});

describe('loadSettings paths', () => {
  it('resolves relative paths from flags against the working directory', async () => {
    const { s, cwd } = await load({ flags: { targets: 'conf/t.yml', 'g3-cache': 'gc', 'shared-cache': 'sh', 'cache-dir': 'cd', 'work-dir': 'wd' } });
    expect(s).toMatchObject({
      targets: path.join(cwd, 'conf/t.yml'),
      g3Cache: path.join(cwd, 'gc'),
      sharedCache: path.join(cwd, 'sh'),
      cacheDir: path.join(cwd, 'cd'),
      workDir: path.join(cwd, 'wd'),
    });
  });

  it('resolves relative paths from the environment against the working directory', async () => {
    const { s, cwd } = await load({ env: { G3_TARGETS: 't.yml', G3_LOCAL_CACHE: 'gc', SHARED_G3_CACHE_PATH: 'sh', G3_CACHE_DIR: 'cd', G3_WORK_DIR: 'wd' } });
    expect(s).toMatchObject({
      targets: path.join(cwd, 't.yml'),
      g3Cache: path.join(cwd, 'gc'),
      sharedCache: path.join(cwd, 'sh'),
      cacheDir: path.join(cwd, 'cd'),
      workDir: path.join(cwd, 'wd'),
    });
  });

  it('keeps absolute paths as given', async () => {
    const { s } = await load({ flags: { targets: '/abs/t.yml', 'g3-cache': '/abs/gc' } });
    expect(s.targets).toBe('/abs/t.yml');
    expect(s.g3Cache).toBe('/abs/gc');
  });

  it('resolves default paths against the project root', async () => {
    const { s, projectRoot } = await load();
    expect(s.cacheDir).toBe(path.join(projectRoot, 'cache'));
    expect(s.workDir).toBe(path.join(projectRoot, 'workspace'));
    expect(s.values.cache_dir.source).toBe('default');
    expect(s.targets).toBe(path.join(projectRoot, 'docker', 'targets.yml'));
    expect(s.values.targets.source).toBe('derived');
  });

  it('puts the g3-cache beside the default targets file', async () => {
    const { s, projectRoot } = await load();
    expect(s.g3Cache).toBe(path.join(projectRoot, 'docker', '.g3-cache'));
    expect(s.values.g3_cache).toEqual({ raw: s.g3Cache, source: 'derived' });
  });

  it('puts the g3-cache beside a targets file given by flag', async () => {
    const { s, cwd } = await load({ flags: { targets: 'elsewhere/t.yml' } });
    expect(s.g3Cache).toBe(path.join(cwd, 'elsewhere', '.g3-cache'));
    expect(s.values.g3_cache.source).toBe('derived');
  });

  it('resolves relative paths from .env against the project root', async () => {
    const { s, projectRoot } = await load({ dotenv: 'G3_CACHE_DIR=pkg-cache\n' });
    expect(s.values.cache_dir.source).toBe('.env');
    expect(s.cacheDir).toBe(path.join(projectRoot, 'pkg-cache'));
  });
});

describe('loadSettings validation', () => {
  it.each([
    ['0', 'a flag', { flags: { workers: '0' } }, 'from --workers (flag)'],
    ['abc', 'a flag', { flags: { workers: 'abc' } }, 'from --workers (flag)'],
    ['65', 'the environment', { env: { G3_WORKERS: '65' } }, 'from G3_WORKERS (env)'],
    ['-1', 'the environment', { env: { G3_WORKERS: '-1' } }, 'from G3_WORKERS (env)'],
  ] as const)('refuses workers "%s" from %s, naming the key and where it came from', async (value, _where, c, where) => {
    const err = await loadError(c);
    expect(err.message).toBe(`invalid workers "${value}" ${where}: expected a whole number from 1 to 64`);
  });

  it('refuses workers "2.5" from .env, naming the key and the variable but not quoting the file', async () => {
    const err = await loadError({ dotenv: 'G3_WORKERS=2.5\n' });
    expect(err.message).toBe('invalid workers from G3_WORKERS (.env): expected a whole number from 1 to 64');
  });

  it.each([
    ['the environment', { env: { G3_OFFLINE: 'maybe' } }, 'invalid offline "maybe" from G3_OFFLINE (env)'],
    ['.env', { dotenv: 'G3_OFFLINE=maybe\n' }, 'invalid offline from G3_OFFLINE (.env)'],
  ] as const)('refuses G3_OFFLINE=maybe from %s', async (_what, c, head) => {
    const err = await loadError(c);
    expect(err.message).toBe(`${head}: expected 1/0, true/false, yes/no`);
  });

  it.each([
    ['G3_HTTP_TIMEOUT', '0', 'http_timeout'],
    ['G3_RETRIES', '21', 'retries'],
    ['G3_LOCK_STALE', 'soon', 'lock_stale'],
  ])('refuses %s=%s', async (name, value, key) => {
    const err = await loadError({ env: { [name]: value } });
    expect(err.message).toMatch(new RegExp(`^invalid ${key} "${value}" from ${name} \\(env\\)`));
  });

  it.each([
    ['G3_SCRATCH', { env: { G3_SCRATCH: 'ram' } }, 'from G3_SCRATCH (env)'],
    ['--scratch', { flags: { scratch: 'Tmpfs' } }, 'from --scratch (flag)'],
  ] as const)('refuses a scratch value it does not know from %s, listing the choices', async (_what, c, where) => {
    const err = await loadError(c);
    expect(err.message).toMatch(new RegExp(`^invalid scratch "(ram|Tmpfs)" ${where.replace(/[()]/g, '\\$&')}: expected one of auto, tmpfs, disk$`));
  });

  it.each([
    [{}, 'auto'],
    [{ env: { G3_SCRATCH: 'disk' } }, 'disk'],
    [{ env: { G3_SCRATCH: 'disk' }, flags: { scratch: 'tmpfs' } }, 'tmpfs'],
  ] as const)('takes scratch from %j: %s', async (c, want) => {
    expect((await load(c)).s.scratch).toBe(want);
  });

  it('refuses a path containing a NUL byte', async () => {
    const err = await loadError({ env: { G3_TARGETS: 'a\0b' } });
    expect(err.message).toBe('invalid targets from G3_TARGETS (env): contains a NUL byte');
  });
});

describe('loadSettings mirrors', () => {
  const SOURCES = [
    'Types: deb',
    'URIs: http://127.0.0.1:8080/debian/',
    'Suites: bookworm bookworm-updates',
    'Components: main',
    '',
    'Types: deb',
    'URIs: http://127.0.0.1:8081/debian-security',
    'Suites: bookworm-security',
    'Components: main',
    '',
  ].join('\n');

  it('takes the mirrors from the apt sources when they are not configured', async () => {
    const { s } = await load({ aptSources: SOURCES });
    expect(s.mirror).toBe('http://127.0.0.1:8080/debian');
    expect(s.securityMirror).toBe('http://127.0.0.1:8081/debian-security');
    expect(s.values.mirror).toEqual({ raw: 'http://127.0.0.1:8080/debian', source: 'apt sources' });
    expect(s.values.security_mirror.source).toBe('apt sources');
  });

  it('prefers a configured mirror over the apt sources, per mirror', async () => {
    const { s } = await load({ aptSources: SOURCES, env: { G3_MIRROR: 'http://127.0.0.1:9000/mine' } });
    expect(s.mirror).toBe('http://127.0.0.1:9000/mine');
    expect(s.values.mirror.source).toBe('env');
    expect(s.securityMirror).toBe('http://127.0.0.1:8081/debian-security');
  });

  it('takes the mirror from .env', async () => {
    const { s } = await load({ aptSources: SOURCES, dotenv: 'G3_MIRROR=http://127.0.0.1:9001/dotenv\n' });
    expect(s.values.mirror).toEqual({ raw: 'http://127.0.0.1:9001/dotenv', source: '.env', from: 'G3_MIRROR' });
  });

  it('leaves the mirrors unset without configuration or apt sources', async () => {
    const { s } = await load();
    expect(s.mirror).toBeUndefined();
    expect(s.securityMirror).toBeUndefined();
    expect(s.values.mirror.source).toBe('default');
  });
});

describe('an empty shared cache setting', () => {
  it.each<[string, Case]>([
    ['an empty --shared-cache flag', { flags: { 'shared-cache': '' }, env: { SHARED_G3_CACHE_PATH: '/srv/g3' } }],
    ['a blank --shared-cache flag', { flags: { 'shared-cache': '  ' } }],
  ])('means no shared cache, never the current directory (%s)', async (_what, c) => {
    const { s } = await load(c);
    expect(s.sharedCache).toBeUndefined();
  });
});
