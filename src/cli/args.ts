// Turning argv into a typed invocation. Options may appear anywhere after the
// command; unknown ones are refused with a hint.
import { parseArgs } from 'node:util';
import { UserError } from '../errors.js';
import { suggest } from '../suggest.js';

export { suggest };

type OptSpec = { type: 'string' | 'boolean'; short?: string; description: string; value?: string };

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Record<string, OptSpec> = {
  targets: { type: 'string', value: 'FILE', description: 'target catalogue (default docker/targets.yml; env G3_TARGETS)' },
  'g3-cache': { type: 'string', value: 'DIR', description: 'local g3-cache (default .g3-cache beside the catalogue; env G3_LOCAL_CACHE)' },
  'shared-cache': { type: 'string', value: 'DIR', description: 'shared g3-cache (env SHARED_G3_CACHE_PATH)' },
  'cache-dir': { type: 'string', value: 'DIR', description: 'package cache root (default ./cache; env G3_CACHE_DIR)' },
  'work-dir': { type: 'string', value: 'DIR', description: 'workspace root (default ./workspace; env G3_WORK_DIR)' },
  workers: { type: 'string', value: 'N', description: 'parallel transfers, 1-64 (default 8; env G3_WORKERS)' },
  offline: { type: 'boolean', description: 'never use the network (env G3_OFFLINE=1)' },
  'ignore-valid-until': { type: 'boolean', description: 'accept repository metadata past its Valid-Until date (env G3_IGNORE_VALID_UNTIL=1)' },
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

const BUILD_OPTIONS: Record<string, OptSpec> = {
  'docker-client': { type: 'string', value: 'BIN', description: 'Docker client that builds with BuildKit (env G3_DOCKER_CLIENT; default: detected)' },
  privileged: { type: 'boolean', description: 'run the build container with --privileged instead of named capabilities (env G3_PRIVILEGED=1)' },
  scratch: {
    type: 'string',
    value: 'WHERE',
    description: 'assemble the root filesystem in tmpfs, on disk, or auto (env G3_SCRATCH; default: auto, tmpfs with 4 GiB available)',
  },
};

const REPO_OPTIONS: Record<string, OptSpec> = {
  repo: { type: 'string', value: 'REPO', description: "[registry/]repository of the image (wins over DOCKER_REPO; default: the target's)" },
};

/** Target-less commands: `<group> <sub>` (cache status, config show) or a single word (list). */
export const GROUPS: Record<string, readonly string[]> = {
  cache: ['status', 'verify', 'prune', 'clean'],
  config: ['show'],
};

/** Options of single commands. */
export const COMMAND_OPTIONS: Record<string, Record<string, OptSpec>> = {
  cache: {
    check: { type: 'boolean', description: 'change nothing: exit 0 when every item is present and verified, 1 when a refresh is needed' },
    verify: { type: 'boolean', description: 'ignore verification stamps and rehash every file' },
  },
  lock: {
    update: { type: 'boolean', description: 'resolve again from the current signed metadata and rewrite the lock' },
  },
  pre_build: { ...REPO_OPTIONS },
  build: { ...BUILD_OPTIONS, ...REPO_OPTIONS },
  push: { ...REPO_OPTIONS },
  post_push: { ...REPO_OPTIONS },
  all: { ...BUILD_OPTIONS, ...REPO_OPTIONS },
  'all-no-push': { ...BUILD_OPTIONS, ...REPO_OPTIONS },
  base: {
    'docker-client': { type: 'string', value: 'BIN', description: 'Docker client (env G3_DOCKER_CLIENT; default: detected)' },
  },
  validate: {
    merged: { type: 'boolean', description: 'print the template merged over its default template' },
  },
  'cache status': {
    'provider-id': { type: 'string', value: 'ID', description: 'only this provider (e.g. debian-debian13-x86_64)' },
  },
  'cache verify': {
    'provider-id': { type: 'string', value: 'ID', description: 'only this provider' },
  },
  'cache prune': {
    'older-than': { type: 'string', value: 'AGE', description: 'remove entries last used longer ago than AGE (e.g. 180d, 12h, 30m)' },
    'max-size': { type: 'string', value: 'SIZE', description: 'then remove least recently used entries until the caches fit in SIZE (e.g. 20G, 500M)' },
    'dry-run': { type: 'boolean', description: 'list what would be removed, remove nothing' },
  },
  'cache clean': {
    packages: { type: 'boolean', description: 'remove the package caches (pkgCache) and the g3-cache sections' },
    workspace: { type: 'boolean', description: 'remove workspace snapshots (chroot, installed packages) and image builds' },
    all: { type: 'boolean', description: 'both' },
    'provider-id': { type: 'string', value: 'ID', description: 'only this provider' },
    'dry-run': { type: 'boolean', description: 'list what would be removed, remove nothing' },
  },
};

export interface Invocation {
  target?: string;
  /** A target command, or a target-less one: 'list', 'inspect', 'cache status', 'config show', ... */
  command?: string;
  /** Extra positionals after the command. */
  rest: string[];
  flags: Record<string, string | boolean>;
  help: boolean;
  version: boolean;
}

/** Every option of every command, plus --version: the one table the CLI and the hooks parse with. */
function optionTable(): Record<string, OptSpec> {
  const commandOptions = Object.assign({}, ...Object.values(COMMAND_OPTIONS)) as Record<string, OptSpec>;
  return { ...GLOBAL_OPTIONS, ...commandOptions, version: { type: 'boolean', description: '' } };
}

/** Options and positionals of argv, by the option table; unknown or malformed options are a UserError with a hint. */
function parseOptions(argv: string[]): { flags: Record<string, string | boolean>; positionals: string[] } {
  const options = optionTable();
  try {
    const parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v.short ? { type: v.type, short: v.short } : { type: v.type }])),
      allowPositionals: true,
      strict: true,
    });
    return { flags: parsed.values as Record<string, string | boolean>, positionals: parsed.positionals };
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
function checkApplies(flags: Record<string, string | boolean>, command: string | undefined): void {
  const allowed = new Set([...Object.keys(GLOBAL_OPTIONS), 'version', ...Object.keys(COMMAND_OPTIONS[command ?? ''] ?? {})]);
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
  flags: Record<string, string | boolean>;
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
  if (first === 'list') return { command: 'list', rest: positionals.slice(1) };
  if (first === 'inspect') return { command: 'inspect', rest: positionals.slice(1) };
  if (first === 'config') {
    if (second === undefined) throw new UserError('missing subcommand after "config"', 'Usage: <builder> config show [--json]');
    if (!GROUPS.config!.includes(second)) throw new UserError(`unknown config subcommand "${second}"`, 'Usage: <builder> config show [--json]');
    return { command: `config ${second}`, rest: more };
  }
  if (first === 'cache' && second !== undefined && GROUPS.cache!.includes(second)) return { command: `cache ${second}`, rest: more };
  return { target: first, command: second, rest: more };
}
