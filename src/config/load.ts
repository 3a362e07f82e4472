// Effective settings: flags > environment > .env > defaults, each value with
// the place it came from.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { Env } from '../env.js';
import { UserError } from '../errors.js';
import { readAptSources, pickMirrors } from './apt-sources.js';
import { DEFAULTS, SETTINGS, type SettingDef, type SettingKey } from './schema.js';

export type Source = 'flag' | 'env' | '.env' | 'default' | 'apt sources' | 'derived';

export interface Setting {
  raw: string | undefined;
  source: Source;
  /** The variable or flag it came from. */
  from?: string;
}

export interface Settings {
  projectRoot: string;
  values: Record<SettingKey, Setting>;
  targets: string;
  g3Cache: string;
  sharedCache: string | undefined;
  cacheDir: string;
  workDir: string;
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
  httpTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  lockStaleMs: number;
}

export interface LoadInput {
  projectRoot: string;
  env: Env;
  flags: Partial<Record<string, string | boolean>>;
  cwd: string;
  /** Root for /etc/apt (tests). */
  aptRoot?: string;
}

/** Read the project's `.env` (not the process environment: that stays untouched). */
function readDotenv(projectRoot: string): Record<string, string> {
  try {
    return parseDotenv(readFileSync(path.join(projectRoot, '.env'), 'utf8'));
  } catch {
    return {};
  }
}

function pick(def: SettingDef, input: LoadInput, dotenv: Record<string, string>): Setting {
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
  return { raw: DEFAULTS[def.key as SettingKey], source: 'default' };
}

function parseValue(def: SettingDef, s: Setting): number | boolean | string | undefined {
  if (s.raw === undefined) return undefined;
  const where = s.from ? `${s.from} (${s.source})` : s.source;
  if (def.kind === 'int') {
    const n = Number(s.raw);
    if (!/^\d+$/.test(s.raw.trim()) || n < (def.min ?? 0) || n > (def.max ?? Number.MAX_SAFE_INTEGER)) {
      throw new UserError(`invalid ${def.key} "${s.raw}" from ${where}: expected a whole number from ${def.min ?? 0} to ${def.max}`);
    }
    return n;
  }
  if (def.kind === 'bool') {
    if (/^(1|true|yes|on)$/i.test(s.raw)) return true;
    if (/^(0|false|no|off|)$/i.test(s.raw)) return false;
    throw new UserError(`invalid ${def.key} "${s.raw}" from ${where}: expected 1/0, true/false, yes/no`);
  }
  if (s.raw.includes('\0')) throw new UserError(`invalid ${def.key} from ${where}: contains a NUL byte`);
  if (def.choices && !def.choices.includes(s.raw)) throw new UserError(`invalid ${def.key} "${s.raw}" from ${where}: expected one of ${def.choices.join(', ')}`);
  return s.raw;
}

/** Work out every setting and where it came from. */
export async function loadSettings(input: LoadInput): Promise<Settings> {
  const dotenv = readDotenv(input.projectRoot);
  const values = {} as Record<SettingKey, Setting>;
  const parsed = {} as Record<SettingKey, number | boolean | string | undefined>;
  for (const def of SETTINGS) {
    values[def.key] = pick(def, input, dotenv);
    parsed[def.key] = parseValue(def, values[def.key]);
  }
  if (values.mirror.raw === undefined || values.security_mirror.raw === undefined) {
    const apt = pickMirrors(await readAptSources(input.aptRoot));
    if (values.mirror.raw === undefined && apt.mirror) values.mirror = { raw: apt.mirror, source: 'apt sources' };
    if (values.security_mirror.raw === undefined && apt.securityMirror) values.security_mirror = { raw: apt.securityMirror, source: 'apt sources' };
  }
  // Paths from flags and the environment are relative to where the user is;
  // defaults are relative to the project.
  const resolvePath = (k: SettingKey, fallback: () => string): string => {
    const s = values[k];
    if (s.raw === undefined) {
      values[k] = { raw: fallback(), source: 'derived' };
      return values[k].raw as string;
    }
    // .env belongs to the project, so its relative paths do too.
    return path.resolve(s.source === 'default' || s.source === '.env' ? input.projectRoot : input.cwd, s.raw);
  };
  const targets = resolvePath('targets', () => path.join(input.projectRoot, 'docker', 'targets.yml'));
  const g3Cache = resolvePath('g3_cache', () => path.join(path.dirname(targets), '.g3-cache'));
  // An empty value (e.g. --shared-cache '') means "no shared cache", not the current directory.
  const shared = values.shared_cache.raw?.trim() ? values.shared_cache.raw : undefined;
  return {
    projectRoot: input.projectRoot,
    values,
    targets,
    g3Cache,
    sharedCache: shared === undefined ? undefined : path.resolve(input.cwd, shared),
    cacheDir: resolvePath('cache_dir', () => path.join(input.projectRoot, 'cache')),
    workDir: resolvePath('work_dir', () => path.join(input.projectRoot, 'workspace')),
    workers: parsed.workers as number,
    offline: parsed.offline as boolean,
    ignoreValidUntil: parsed.ignore_valid_until as boolean,
    dockerClient: parsed.docker_client as string | undefined,
    privileged: parsed.privileged as boolean,
    scratch: parsed.scratch as Settings['scratch'],
    mirror: values.mirror.raw,
    securityMirror: values.security_mirror.raw,
    httpTimeoutMs: (parsed.http_timeout as number) * 1000,
    retries: parsed.retries as number,
    retryBackoffMs: parsed.retry_backoff_ms as number,
    lockStaleMs: (parsed.lock_stale as number) * 1000,
  };
}
