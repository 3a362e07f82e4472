// Options every command accepts: the settings' flags, derived from the
// settings schema, then the output and help switches.
import { SETTINGS, type SettingDef } from '../config/schema.js';
import { envHint, type FlagKey, type Options, settingOption } from './command.js';
import { COMMANDS } from './registry.js';

const VALUE_NAMES = { path: 'PATH', int: 'N', string: 'VALUE', bool: undefined } as const;

/** The help line of a setting's flag, from the schema: its text, an int's range, the default and the environment variable. */
function flagHelpOf(def: (typeof SETTINGS)[number] & { flag: string }): { value?: string; description: string } {
  if (!('flagHelp' in def) || def.flagHelp === undefined) return { value: VALUE_NAMES[def.kind], description: def.description };
  const h: NonNullable<SettingDef['flagHelp']> = def.flagHelp;
  const range = 'min' in def && 'max' in def && def.min !== undefined && def.max !== undefined ? `, ${def.min}-${def.max}` : '';
  const shown = h.shownDefault === undefined ? '' : `default ${h.shownDefault}; `;
  const description = `${h.text}${range} (${shown}${envHint(def.key as FlagKey)})`;
  return h.value === undefined ? { description } : { value: h.value, description };
}

/** Settings whose flag belongs to some commands only (--docker-client, --privileged, --scratch). */
function commandSettings(): Set<string> {
  return new Set(COMMANDS.flatMap((c) => Object.values(c.options).flatMap((o) => (o.setting ? [o.setting] : []))));
}

/** Every schema setting with a flag that no command claims as its own, in schema order. */
function settingFlags(): Options {
  const own = commandSettings();
  const options: Options = {};
  for (const def of SETTINGS) {
    if (!('flag' in def) || own.has(def.key)) continue;
    Object.assign(options, settingOption(def.key, flagHelpOf(def)));
  }
  return options;
}

/** Options every command accepts, anywhere after the command. */
export const GLOBAL_OPTIONS: Options = {
  ...settingFlags(),
  json: { type: 'boolean', description: 'print one JSON document on stdout' },
  quiet: { type: 'boolean', short: 'q', description: 'print only errors' },
  verbose: { type: 'boolean', short: 'v', description: 'print every item and external command' },
  config: {
    type: 'string',
    value: 'FILE',
    description: 'configuration file (default: first of ./g3-composer.yml, ~/.config/g3-composer/config.yml, /etc/g3-composer/config.yml; env G3_CONFIG)',
  },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};
