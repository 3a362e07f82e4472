// The global config file (config.yml): where it is looked for and how its
// keys become the raw strings the other sources give. Only the first file
// found is read; files are never merged, so what one file says is the whole
// story for that layer.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, type Node } from 'yaml';
import type { Env } from '../env.js';
import { UserError } from '../errors.js';
import { suggest } from '../suggest.js';
import { parseYaml } from '../yaml.js';
import { SETTINGS, type SettingDef, type SettingKey } from './schema.js';

/** Where the search runs: the parts of LoadInput it reads. */
export interface ConfigSearch {
  projectRoot: string;
  env: Env;
  flags: Partial<Record<string, string | boolean>>;
  cwd: string;
  /** Replaces `/etc` (tests). */
  configRoots?: { etc?: string };
}

/** A config file is a few dozen lines; anything this large was named by mistake. */
const MAX_CONFIG_BYTES = 256 * 1024;

/** What a key must look like to be named in a message: a setting key or an environment name. */
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** One value from the file, already in the string form the other sources use. */
export interface FileValue {
  raw: string;
  line: number;
}

export interface ConfigFile {
  path: string;
  values: Partial<Record<SettingKey, FileValue>>;
}

/** The config file named explicitly, and by what; relative names are relative to where they were given. */
function explicitFile(s: ConfigSearch, dotenv: Record<string, string>): { file: string; by: string } | undefined {
  const flag = s.flags.config;
  if (typeof flag === 'string') {
    if (flag.trim() === '') throw new UserError('--config was given an empty file name', 'Name a config file, e.g. --config ./g3-composer.yml.');
    return { file: path.resolve(s.cwd, flag), by: '--config' };
  }
  if (s.env.G3_CONFIG) return { file: path.resolve(s.cwd, s.env.G3_CONFIG), by: 'G3_CONFIG (env)' };
  if (dotenv.G3_CONFIG) return { file: path.resolve(s.projectRoot, dotenv.G3_CONFIG), by: 'G3_CONFIG (.env)' };
  return undefined;
}

/** The places searched when no file is named, first wins. */
export function searchPath(s: ConfigSearch): string[] {
  const out = [path.join(s.cwd, 'g3-composer.yml')];
  // XDG says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = s.env.XDG_CONFIG_HOME;
  const configHome = xdg && path.isAbsolute(xdg) ? xdg : s.env.HOME ? path.join(s.env.HOME, '.config') : undefined;
  if (configHome) out.push(path.join(configHome, 'g3-composer', 'config.yml'));
  out.push(path.join(s.configRoots?.etc ?? '/etc', 'g3-composer', 'config.yml'));
  return out;
}

/** 'file', 'missing', or throws for anything else (a directory, no permission) so a broken file is never skipped. */
async function probe(file: string): Promise<'file' | 'missing'> {
  try {
    const st = await stat(file);
    if (!st.isFile())
      throw new UserError(`config file ${file} is not a regular file`, 'Point --config or G3_CONFIG at a YAML file, or remove what is in the way.');
    return 'file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot read config file ${file}: ${(err as Error).message}`, 'Fix its permissions or name another file with --config.');
  }
}

/** Find the config file: --config, G3_CONFIG, ./g3-composer.yml, ~/.config/g3-composer/config.yml, /etc/g3-composer/config.yml. */
export async function findConfigFile(s: ConfigSearch, dotenv: Record<string, string> = {}): Promise<{ file: string | undefined; searched: string[] }> {
  const named = explicitFile(s, dotenv);
  if (named) {
    if ((await probe(named.file)) === 'missing') {
      throw new UserError(`config file ${named.file} (from ${named.by}) does not exist`, 'Create it (see g3-composer.example.yml) or name an existing file.');
    }
    return { file: named.file, searched: [named.file] };
  }
  const searched = searchPath(s);
  for (const file of searched) if ((await probe(file)) === 'file') return { file, searched };
  return { file: undefined, searched };
}

function describeNode(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isScalar(node)) return typeof node.value === 'number' || typeof node.value === 'boolean' ? `${typeof node.value} ${String(node.value)}` : 'a string';
  return 'a list';
}

/** The raw string for a scalar of the right YAML type; undefined for an empty value (the same as leaving the key out). */
function rawValue(def: SettingDef, node: Node | null, where: string): string | undefined {
  if (node === null || (isScalar(node) && (node.value === null || node.value === ''))) return undefined;
  const v = isScalar(node) ? node.value : undefined;
  // Strings are taken for every kind: the value check that follows is the one the environment gets.
  const ok =
    typeof v === 'string' ||
    (typeof v === 'number' && def.kind === 'int') ||
    (typeof v === 'boolean' && def.kind === 'bool') ||
    (typeof v === 'number' && def.kind === 'bool' && (v === 0 || v === 1));
  if (!ok) {
    const want = { int: 'a whole number', bool: 'true or false', string: 'a string', path: 'a path (a string)' }[def.kind];
    throw new UserError(
      `invalid ${def.key} from ${where} (config file): expected ${want}, got ${describeNode(node)}`,
      'Fix the value in the config file; see g3-composer.example.yml.',
    );
  }
  return String(v);
}

/** Read and check a config file: a mapping of setting keys to scalars. */
export async function readConfigFile(file: string): Promise<ConfigFile> {
  let text: string;
  try {
    if ((await stat(file)).size > MAX_CONFIG_BYTES) {
      throw new UserError(
        `config file ${file} is larger than ${MAX_CONFIG_BYTES / 1024} KiB: not a config file`,
        'Point --config or G3_CONFIG at a YAML config file (see g3-composer.example.yml).',
      );
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot read config file ${file}: ${(err as Error).message}`, 'Fix its permissions or name another file with --config.');
  }
  const { doc, lines } = parseYaml(text, file);
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined) => lines.linePos(node?.range?.[0] ?? 0).line;
  const values: ConfigFile['values'] = {};
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return { path: file, values };
  if (!isMap(doc.contents)) {
    throw new UserError(
      `${file}:${lineOf(doc.contents)}: a config file is a mapping of settings (key: value), not ${describeNode(doc.contents)}`,
      'See g3-composer.example.yml.',
    );
  }
  const keys = SETTINGS.map((d) => d.key);
  for (const pair of doc.contents.items) {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
    const def = SETTINGS.find((d) => d.key === key);
    if (!def) {
      // A key is echoed only when it looks like a setting or variable name: a file named by
      // mistake (a password file) has keys that are its contents, and those are never printed.
      const named = key !== undefined && SETTING_NAME.test(key);
      const shown = key === undefined ? 'a key that is not a plain name' : named ? `unknown setting "${key}"` : 'a key that is not a setting name (not shown)';
      // Someone may paste environment names; point them at the key.
      const near = key === undefined || !named ? undefined : (SETTINGS.find((d) => (d.env as readonly string[]).includes(key))?.key ?? suggest(key, keys));
      throw new UserError(`${file}:${lineOf(keyNode)}: ${shown}`, `${near ? `Did you mean "${near}"? ` : ''}Settings: ${keys.join(', ')}.`);
    }
    const valueNode = pair.value as Node | null;
    const line = lineOf(valueNode ?? keyNode);
    const raw = rawValue(def, valueNode, `${file}:${line}`);
    if (raw !== undefined) values[def.key] = { raw, line };
  }
  return { path: file, values };
}
