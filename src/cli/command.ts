// A command of the builder declared once: its name, summary, options, help
// text, handler and renderer in one object. The registry lists these; help,
// argument parsing and the hooks' flags are derived from that list.
import type { Settings } from '../config/load.js';
import { SETTINGS, type SettingKey } from '../config/schema.js';
import type { Env } from '../env.js';
import { InternalError } from '../errors.js';
import type { Emit } from '../log/events.js';
import type { Output } from './output.js';

/** One option as node:util parseArgs takes it, plus what help prints about it. */
export interface OptSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** The value's name in help: FILE, DIR, N. */
  value?: string;
  /** The setting this flag sets (the schema names the flag). */
  setting?: SettingKey;
}

export type Options = Record<string, OptSpec>;
export type Flags = Record<string, string | boolean>;

/** What a handler gets: the invocation, the caller's world, and where to print. */
export interface CommandInput {
  /** The target; '' for a target-less command. */
  target: string;
  /** The positionals the command declares (inspect's image), checked already. */
  args: string[];
  flags: Flags;
  env: Env;
  cwd: string;
  projectRoot: string;
  prog: string;
  out: Output;
  emit: Emit;
}

/** The input of a command that runs on loaded settings (all but `config show`). */
export interface SettingsInput extends CommandInput {
  settings: Settings;
}

/** A positional a command takes after its name, and what to say when it is missing. */
export interface Positional {
  name: string;
  missing: string;
}

interface Declared<R> {
  /** One word, or `<group> <sub>` (cache status). */
  name: string;
  summary: string;
  /** Target-less commands take no `<target>` first: list, inspect, cache status, ... */
  targetless?: boolean;
  /** After the program name; default `<target> <name> [options]`. */
  usage?: string;
  positionals?: Positional[];
  options?: Options;
  /** What the command does, a few lines: the body of `<command> --help`. */
  description: string;
  /** Command lines (2-4), each starting with the program name or environment assignments. */
  examples: (prog: string) => string[];
  /** Append to the run log (inspect and config show do not). Default true. */
  runLog?: boolean;
  /** Print the handler's result (text or --json) and return the exit code. */
  render(result: R, input: CommandInput): number;
}

/** A command as declared: `settings: false` for one that loads them itself (config show). */
export type CommandDef<R> = Declared<R> &
  ({ settings?: true; run(input: SettingsInput): Promise<R> } | { settings: false; run(input: CommandInput): Promise<R> });

/** A declared command with defaults filled in and handler and renderer joined: what the registry lists. */
export interface Command {
  name: string;
  summary: string;
  targetless: boolean;
  usage: string;
  positionals: readonly Positional[];
  options: Options;
  description: string;
  examples: (prog: string) => string[];
  loadsSettings: boolean;
  runLog: boolean;
  /** Run the handler, then the renderer; `settings` when the command loads them. */
  execute(input: CommandInput, settings?: Settings): Promise<number>;
}

/** Declare a command. */
export function defineCommand<R>(def: CommandDef<R>): Command {
  const execute = async (input: CommandInput, settings?: Settings): Promise<number> => {
    if (def.settings === false) return def.render(await def.run(input), input);
    if (settings === undefined) throw new InternalError(`${def.name} runs without the settings it needs`);
    return def.render(await def.run({ ...input, settings }), input);
  };
  return {
    name: def.name,
    summary: def.summary,
    targetless: def.targetless === true,
    usage: def.usage ?? `<target> ${def.name} [options]`,
    positionals: def.positionals ?? [],
    options: def.options ?? {},
    description: def.description,
    examples: def.examples,
    loadsSettings: def.settings !== false,
    runLog: def.runLog !== false,
    execute,
  };
}

type FlagSetting = Extract<(typeof SETTINGS)[number], { flag: string }>;
/** Settings the schema gives a flag. */
export type FlagKey = FlagSetting['key'];

/** The schema's entry of a setting that has a flag. */
export function flagSetting(key: FlagKey): FlagSetting {
  const def = SETTINGS.find((s): s is FlagSetting => s.key === key && 'flag' in s);
  if (def === undefined) throw new InternalError(`setting ${key} has no flag`);
  return def;
}

/** How help names a setting's environment variable: `env G3_WORKERS`; `env G3_OFFLINE=1` for a switch. */
export function envHint(key: FlagKey): string {
  const def = flagSetting(key);
  return `env ${def.env[0]}${def.kind === 'bool' ? '=1' : ''}`;
}

/** A setting's flag as an option: name and type from the schema, the help line from the caller. */
export function settingOption(key: FlagKey, help: { value?: string; description: string }): Options {
  const def = flagSetting(key);
  const spec: OptSpec = { type: def.kind === 'bool' ? 'boolean' : 'string', description: help.description, setting: key };
  if (help.value !== undefined) spec.value = help.value;
  return { [def.flag]: spec };
}
