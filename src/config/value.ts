// One setting's raw string checked and converted, with messages that name the
// key and the place the value came from, so a bad value is fixed where it lives.
import { UserError } from '../errors.js';
import { escapeInline, redactSecrets, redactUrl } from '../text/untrusted.js';
import type { SettingDef } from './schema.js';

export type Source = 'flag' | 'env' | '.env' | 'config' | 'default' | 'apt sources' | 'derived';

export interface Setting {
  raw: string | undefined;
  source: Source;
  /** The flag or variable it came from, or `file:line` of the config file. */
  from?: string;
}

export type Parsed = number | boolean | string | undefined;

/** "G3_WORKERS (env)", "/x/g3-composer.yml:3 (config file)", "default". */
export function describeSource(s: Setting): string {
  const label = s.source === 'config' ? 'config file' : s.source;
  return s.from ? `${s.from} (${label})` : label;
}

/** Whether a bad value may be quoted back: only what was typed on the command line or set in the environment. */
function echoes(s: Setting): boolean {
  return s.source === 'flag' || s.source === 'env';
}

/** A setting's value with URL user info and credential-like query values redacted (a whole-value URL even when it holds spaces or quotes). */
export function redactValue(raw: string): string {
  return redactSecrets(redactUrl(raw));
}

/** A value as messages quote it: redacted, controls escaped. */
function shownValue(raw: string): string {
  return escapeInline(redactValue(raw));
}

function hintFor(s: Setting): string {
  switch (s.source) {
    case 'flag':
      return `Fix the value of ${s.from}.`;
    case 'env':
      return `Fix or unset ${s.from} in the environment.`;
    case '.env':
      return `Fix or remove ${s.from} in the project's .env.`;
    case 'config':
      return `Fix the value at ${s.from}; see g3-composer.example.yml.`;
    default:
      return 'Set a valid value by flag, environment, .env or config file.';
  }
}

/** Check a raw value against its definition and convert it; a bad one is a UserError naming key and source. */
export function parseValue(def: SettingDef, s: Setting): Parsed {
  if (s.raw === undefined) return undefined;
  // The value is repeated only when the user typed it (a flag or the environment), and then
  // redacted; a file's value is named by file and line: the file may not be meant to be shown.
  const bad = (detail: string, shown = true) =>
    new UserError(`invalid ${def.key}${shown && echoes(s) ? ` "${shownValue(s.raw as string)}"` : ''} from ${describeSource(s)}: ${detail}`, hintFor(s));
  if (def.kind === 'int') {
    const n = Number(s.raw);
    if (!/^\d+$/.test(s.raw.trim()) || n < (def.min ?? 0) || n > (def.max ?? Number.MAX_SAFE_INTEGER)) {
      throw bad(`expected a whole number from ${def.min ?? 0} to ${def.max}`);
    }
    return n;
  }
  if (def.kind === 'bool') {
    if (/^(1|true|yes|on)$/i.test(s.raw)) return true;
    if (/^(0|false|no|off|)$/i.test(s.raw)) return false;
    throw bad('expected 1/0, true/false, yes/no');
  }
  if (s.raw.includes('\0')) throw bad('contains a NUL byte', false);
  if (def.choices && !def.choices.includes(s.raw)) throw bad(`expected one of ${def.choices.join(', ')}`);
  if (def.pattern && !def.pattern.test(s.raw)) throw bad(`expected ${def.expected ?? def.pattern.source}`);
  return s.raw;
}
