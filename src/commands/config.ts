// The `config show` command as data: every setting's effective value and
// where it came from, plus the config file that was read.
import { type LoadInput, loadSettings, type Source } from '../config/load.js';
import { searchPath } from '../config/file.js';
import { SETTINGS, type SettingKey } from '../config/schema.js';
import { redactValue } from '../config/value.js';

export interface ShownSetting {
  key: SettingKey;
  /** In the setting's own units, paths resolved; undefined when unset. Strings have URL user info and credential-like query values redacted. */
  value: string | number | boolean | undefined;
  source: Source;
  /** Flag, variable or `file:line` of the config file. */
  from?: string;
}

export interface ConfigReport {
  /** The config file read; undefined when none was found. */
  file: string | undefined;
  /** The places looked at when no file was found (so the user knows where to put one). */
  searched: string[];
  settings: ShownSetting[];
}

/** Load the settings and report each with its source, in schema order; invalid values throw a UserError. */
export async function showConfig(input: LoadInput): Promise<ConfigReport> {
  const s = await loadSettings(input);
  return {
    file: s.configFile,
    searched: s.configFile === undefined ? searchPath(input) : [],
    settings: SETTINGS.map(({ key }) => {
      const v = s.values[key];
      const value = s.effective[key];
      return { key, value: typeof value === 'string' ? redactValue(value) : value, source: v.source, ...(v.from === undefined ? {} : { from: v.from }) };
    }),
  };
}
