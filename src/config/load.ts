// Effective settings: flags > environment > .env > config file > defaults,
// each value with the place it came from.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { Env } from '../env.js';
import { UserError } from '../errors.js';
import { isNotFound } from '../fs/safe.js';
import { readAptSources, pickMirrors } from './apt-sources.js';
import { type ConfigFile, type ConfigSearch, findConfigFile, readConfigFile } from './file.js';
import { DEFAULTS, SETTINGS, type SettingDef, type SettingKey } from './schema.js';
import { type Parsed, parseValue, type Setting } from './value.js';
import { defaultLogFile } from '../layout/paths.js';

export type { Setting, Source } from './value.js';

const MIB = 1024 * 1024;

export interface Settings {
  projectRoot: string;
  /** The config file read, when one was found. */
  configFile: string | undefined;
  /** Where each value came from, as given (paths unresolved). */
  values: Record<SettingKey, Setting>;
  /** Each value in its setting's own units, paths resolved: what `config show` prints. */
  effective: Record<SettingKey, Parsed>;
  targets: string;
  g3Cache: string;
  sharedCache: string | undefined;
  cacheDir: string;
  workDir: string;
  /** Scratch files of the toolkit itself. */
  tempDir: string;
  workers: number;
  offline: boolean;
  /** Accept metadata past its Valid-Until (explicit override). */
  ignoreValidUntil: boolean;
  /** Docker client binary named by configuration; undefined: detect one. */
  dockerClient: string | undefined;
  /** Run the build container with --privileged (opt-in). */
  privileged: boolean;
  /** Where the root filesystem is assembled (see the setting). */
  scratch: 'auto' | 'tmpfs' | 'disk';
  mirror: string | undefined;
  securityMirror: string | undefined;
  /** Default registry host[:port] for targets that name none. */
  registry: string | undefined;
  /** The OCI repository used as a cache tier (`host[:port]/path`), when one is set. */
  cacheRegistry: string | undefined;
  /** Registries (host[:port]) spoken to over plain HTTP though not on loopback. */
  insecureRegistries: string[];
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** The run log; undefined when turned off (`-` or `none`). */
  logFile: string | undefined;
  httpTimeoutMs: number;
  /** The slowest average, in bytes per second over one http_timeout window, before a download counts as stalled. */
  httpMinSpeed: number;
  /** The largest single download, in bytes. */
  maxDownloadBytes: number;
  /** The largest Packages index once unpacked, in bytes. */
  maxIndexBytes: number;
  retries: number;
  retryBackoffMs: number;
  lockStaleMs: number;
}

export interface LoadInput extends ConfigSearch {
  /** Root for /etc/apt (tests). */
  aptRoot?: string;
}

/** Read the project's `.env` (not the process environment: that stays untouched); only a missing one is the same as an empty one. */
function readDotenv(projectRoot: string): Record<string, string> {
  const file = path.join(projectRoot, '.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return {};
    // Named by file and error code only: the message of a read error never carries the file's text, but keep it short.
    throw new UserError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'Fix its permissions, or remove it.');
  }
  return parseDotenv(text);
}

/** The OS temp dir as the given environment sees it (os.tmpdir() would read the process's own). */
function osTempDir(env: Env): string {
  const dir = env.TMPDIR || env.TMP || env.TEMP || '/tmp';
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

interface Layers {
  input: LoadInput;
  dotenv: Record<string, string>;
  file: ConfigFile | undefined;
  defaults: Partial<Record<SettingKey, string>>;
}

function pick(def: SettingDef, { input, dotenv, file, defaults }: Layers): Setting {
  const flag = def.flag ? input.flags[def.flag] : undefined;
  if (flag !== undefined) return { raw: String(flag), source: 'flag', from: `--${def.flag}` };
  for (const name of def.env) {
    const v = input.env[name];
    if (v !== undefined && v !== '') return { raw: v, source: 'env', from: name };
  }
  for (const name of def.env) {
    const v = dotenv[name];
    if (v !== undefined && v !== '') return { raw: v, source: '.env', from: name };
  }
  const fv = file?.values[def.key as SettingKey];
  if (file && fv) return { raw: fv.raw, source: 'config', from: `${file.path}:${fv.line}` };
  return { raw: defaults[def.key as SettingKey], source: 'default' };
}

/** Work out every setting and where it came from. */
export async function loadSettings(input: LoadInput): Promise<Settings> {
  const dotenv = readDotenv(input.projectRoot);
  const found = await findConfigFile(input, dotenv);
  const layers: Layers = {
    input,
    dotenv,
    file: found.file === undefined ? undefined : await readConfigFile(found.file),
    defaults: { ...DEFAULTS, temp_dir: osTempDir(input.env) },
  };
  const values = {} as Record<SettingKey, Setting>;
  const parsed = {} as Record<SettingKey, Parsed>;
  for (const def of SETTINGS) {
    values[def.key] = pick(def, layers);
    parsed[def.key] = parseValue(def, values[def.key]);
  }
  if (values.mirror.raw === undefined || values.security_mirror.raw === undefined) {
    const apt = pickMirrors(await readAptSources(input.aptRoot));
    if (values.mirror.raw === undefined && apt.mirror) values.mirror = { raw: apt.mirror, source: 'apt sources' };
    if (values.security_mirror.raw === undefined && apt.securityMirror) values.security_mirror = { raw: apt.securityMirror, source: 'apt sources' };
    parsed.mirror = values.mirror.raw;
    parsed.security_mirror = values.security_mirror.raw;
  }
  // Paths from flags and the environment are relative to where the user is;
  // defaults and .env to the project; a config file's to its own directory.
  const baseOf = (s: Setting): string => {
    if (s.source === 'flag' || s.source === 'env') return input.cwd;
    if (s.source === 'config' && layers.file) return path.dirname(layers.file.path);
    return input.projectRoot;
  };
  const resolvePath = (k: SettingKey, fallback: () => string): string => {
    const s = values[k];
    if (s.raw === undefined) values[k] = { raw: fallback(), source: 'derived' };
    const resolved = s.raw === undefined ? (values[k].raw as string) : path.resolve(baseOf(s), s.raw);
    parsed[k] = resolved;
    return resolved;
  };
  const targets = resolvePath('targets', () => path.join(input.projectRoot, 'docker', 'targets.yml'));
  const g3Cache = resolvePath('g3_cache', () => path.join(path.dirname(targets), '.g3-cache'));
  // An empty value (e.g. --shared-cache '') means "no shared cache", not the current directory.
  const shared = values.shared_cache.raw?.trim() ? values.shared_cache.raw : undefined;
  const sharedCache = shared === undefined ? undefined : path.resolve(baseOf(values.shared_cache), shared);
  parsed.shared_cache = sharedCache;
  const cacheDir = resolvePath('cache_dir', () => path.join(input.projectRoot, 'cache'));
  const workDir = resolvePath('work_dir', () => path.join(input.projectRoot, 'workspace'));
  const tempDir = resolvePath('temp_dir', () => osTempDir(input.env));
  // `-` and `none` turn the run log off; an empty flag does too.
  const logOff = ['-', 'none', ''].includes(values.log_file.raw?.trim() ?? 'unset');
  const logFile = logOff ? undefined : resolvePath('log_file', () => defaultLogFile(workDir));
  if (logOff) parsed.log_file = undefined;
  return {
    projectRoot: input.projectRoot,
    configFile: found.file,
    values,
    effective: parsed,
    targets,
    g3Cache,
    sharedCache,
    cacheDir,
    workDir,
    tempDir,
    workers: parsed.workers as number,
    offline: parsed.offline as boolean,
    ignoreValidUntil: parsed.ignore_valid_until as boolean,
    dockerClient: parsed.docker_client as string | undefined,
    privileged: parsed.privileged as boolean,
    scratch: parsed.scratch as Settings['scratch'],
    mirror: values.mirror.raw,
    securityMirror: values.security_mirror.raw,
    registry: parsed.registry as string | undefined,
    cacheRegistry: (parsed.cache_registry as string | undefined) || undefined,
    insecureRegistries: ((parsed.insecure_registries as string | undefined) ?? '').split(',').filter(Boolean),
    logLevel: parsed.log_level as Settings['logLevel'],
    logFile,
    httpTimeoutMs: (parsed.http_timeout as number) * 1000,
    httpMinSpeed: parsed.http_min_speed as number,
    maxDownloadBytes: (parsed.max_download_mib as number) * MIB,
    maxIndexBytes: (parsed.max_index_mib as number) * MIB,
    retries: parsed.retries as number,
    retryBackoffMs: parsed.retry_backoff_ms as number,
    lockStaleMs: (parsed.lock_stale as number) * 1000,
  };
}
