// Turning argv into a typed invocation, by the options the registered
// commands declare. Options may appear anywhere after the command; unknown
// ones are refused with a hint.
import { parseArgs } from 'node:util';
import { checkTargetName } from '../catalogue/target-name.js';
import { UserError } from '../errors.js';
import { suggest } from '../suggest.js';
import type { Command, Flags, Options } from './command.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { COMMANDS, findCommand, RESERVED_GROUPS, TARGET_COMMANDS, targetlessWords } from './registry.js';

export { suggest };

export interface Invocation {
  target?: string;
  /** A target command, or a target-less one: 'list', 'inspect', 'cache status', 'config show', ... */
  command?: string;
  /** Extra positionals after the command. */
  rest: string[];
  flags: Flags;
  help: boolean;
  version: boolean;
}

/** Every option of every command, plus --version: the one table the CLI and the hooks parse with. */
export function optionTable(): Options {
  const commandOptions = Object.assign({}, ...COMMANDS.map((c) => c.options)) as Options;
  return { ...GLOBAL_OPTIONS, ...commandOptions, version: { type: 'boolean', description: '' } };
}

/** Options and positionals of argv, by the option table; unknown or malformed options are a UserError with a hint. */
function parseOptions(argv: string[]): { flags: Flags; positionals: string[] } {
  const options = optionTable();
  try {
    const parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v.short ? { type: v.type, short: v.short } : { type: v.type }])),
      allowPositionals: true,
      strict: true,
    });
    return { flags: parsed.values as Flags, positionals: parsed.positionals };
  } catch (err) {
    const e = err as { code?: string; message: string };
    const m = /'(-{1,2}[^'\s]+)/.exec(e.message);
    const given = m?.[1] ?? '';
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const near = suggest(given.replace(/^-+/, ''), Object.keys(options));
      throw new UserError(`unknown option ${given}`, near ? `Did you mean --${near}? See --help.` : 'See --help for the options.');
    }
    throw new UserError(e.message.split('\n')[0] ?? 'bad arguments', 'See --help.');
  }
}

/** Command options are parsed together; refuse those that belong to another command. */
function checkApplies(flags: Flags, command: string | undefined): void {
  const own = findCommand(command ?? '')?.options ?? {};
  const allowed = new Set([...Object.keys(GLOBAL_OPTIONS), 'version', ...Object.keys(own)]);
  for (const name of Object.keys(flags)) {
    if (!allowed.has(name)) throw new UserError(`option --${name} does not apply to ${command ? `the ${command} command` : 'this invocation'}`, 'See --help.');
  }
}

/** Parse argv (without node and script) for `<target> <command> [options]`. */
export function parseInvocation(argv: string[]): Invocation {
  const { flags, positionals } = parseOptions(argv);
  // `help` in the target's place asks for the main help (`<builder> help`), as --help does.
  const asksHelp = positionals[0] === 'help';
  const { target, command, rest } = asksHelp ? { target: undefined, command: undefined, rest: positionals.slice(1) } : route(positionals);
  checkApplies(flags, command);
  return { target, command, rest, flags, help: asksHelp || flags.help === true, version: flags.version === true };
}

/** What a hook's argv says: `hooks/<hook> [<branch>] [<target>] [options]`. */
export interface HookArgs {
  branch?: string;
  target?: string;
  /** Positionals after the target (an error for the caller to report). */
  rest: string[];
  flags: Flags;
  help: boolean;
}

/**
 * Parse a hook's argv with the CLI's option table (the hook runs the command
 * of its name, so that command's options apply); positionals are branch and target.
 */
export function parseHookArgs(hook: string, argv: string[]): HookArgs {
  const { flags, positionals } = parseOptions(argv);
  checkApplies(flags, hook);
  const [branch, target, ...rest] = positionals;
  return { branch, target, rest, flags, help: flags.help === true };
}

/** Split positionals into target, command and the rest; target-less commands have no target. */
function route(positionals: string[]): { target?: string; command?: string; rest: string[] } {
  const [first, second, ...more] = positionals;
  const group = targetlessWords().get(first ?? '');
  if (first !== undefined && group !== undefined) {
    if (group.some((c) => c.name === first)) return { command: first, rest: positionals.slice(1) };
    if (second !== undefined && group.some((c) => c.name === `${first} ${second}`)) return { command: `${first} ${second}`, rest: more };
    if (RESERVED_GROUPS.has(first)) {
      const usage = `Usage: <builder> ${group.map((c) => c.usage).join(' | ')}`;
      if (second === undefined) throw new UserError(`missing subcommand after "${first}"`, usage);
      throw new UserError(`unknown ${first} subcommand "${second}"`, usage);
    }
  }
  return { target: first, command: second, rest: more };
}

/**
 * The registered command an invocation names, once it names one: a missing
 * or unknown command, or a bad target name, is a UserError with the commands
 * to choose from. (Not part of parsing: the hooks build their invocation themselves.)
 */
export function commandOf(inv: Invocation, prog: string): Command {
  if (inv.command !== undefined && inv.target === undefined) {
    const c = findCommand(inv.command);
    if (c?.targetless) return c;
  }
  if (inv.target === undefined) throw new UserError('missing target and command', `Usage: ${prog} <target> <command> [options]; see ${prog} --help.`);
  // Before anything uses it as a file name (locks, the pipeline's state folder).
  checkTargetName(inv.target);
  if (inv.command === undefined) throw new UserError(`missing command after target "${inv.target}"`, `Commands: ${TARGET_COMMANDS.join(', ')}.`);
  const c = findCommand(inv.command);
  if (c !== undefined && !c.targetless) return c;
  if (inv.command === 'inspect')
    throw new UserError(
      'inspect takes an image file, not a target',
      `Usage: ${prog} inspect <image> [--json], e.g. ${prog} inspect workspace/<provider-id>/imagebuild/<name>/<image>.raw`,
    );
  const near = suggest(inv.command, TARGET_COMMANDS);
  throw new UserError(`unknown command "${inv.command}"`, `${near ? `Did you mean "${near}"? ` : ''}Commands: ${TARGET_COMMANDS.join(', ')}.`);
}

/** Refuse missing or extra positionals after the command (inspect takes its image; the others nothing). */
export function checkPositionals(c: Command, rest: readonly string[], prog: string): void {
  const usage = c.targetless && c.positionals.length === 0 ? `${c.name} [options]; see ${prog} ${c.name} --help.` : c.usage;
  const missing = c.positionals[rest.length];
  if (missing !== undefined) throw new UserError(missing.missing, `Usage: ${prog} ${usage}`);
  if (rest.length > c.positionals.length) throw new UserError(`unexpected argument "${rest[c.positionals.length]}"`, `Usage: ${prog} ${usage}`);
}
