// Options every command accepts: the settings' flags, derived from the
// settings schema, then the output and help switches.
import { SETTINGS } from '../config/schema.js';
import { envHint, type FlagKey, type Options, settingOption } from './command.js';
import { COMMANDS } from './registry.js';

// What help says about each setting flag; the name, type and environment
// variable come from the schema. A flag without a line here is listed with the
// schema's own description.
const HELP: Partial<Record<FlagKey, { value?: string; description: string }>> = {
  targets: { value: 'FILE', description: `target catalogue (default docker/targets.yml; ${envHint('targets')})` },
  g3_cache: { value: 'DIR', description: `local g3-cache (default .g3-cache beside the catalogue; ${envHint('g3_cache')})` },
  shared_cache: { value: 'DIR', description: `shared g3-cache (${envHint('shared_cache')})` },
  cache_dir: { value: 'DIR', description: `package cache root (default ./cache; ${envHint('cache_dir')})` },
  work_dir: { value: 'DIR', description: `workspace root (default ./workspace; ${envHint('work_dir')})` },
  workers: { value: 'N', description: `parallel transfers, 1-64 (default 8; ${envHint('workers')})` },
  offline: { description: `never use the network (${envHint('offline')})` },
  ignore_valid_until: { description: `accept repository metadata past its Valid-Until date (${envHint('ignore_valid_until')})` },
};

const VALUE_NAMES = { path: 'PATH', int: 'N', string: 'VALUE', bool: undefined } as const;

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
    const help = HELP[def.key] ?? { value: VALUE_NAMES[def.kind], description: def.description };
    Object.assign(options, settingOption(def.key, help));
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
