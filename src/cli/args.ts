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
  help: { type: 'boolean', short: 'h', description: 'show help' },
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
  build: {
    'docker-client': { type: 'string', value: 'BIN', description: 'Docker client that builds with BuildKit (env G3_DOCKER_CLIENT; default: detected)' },
    privileged: { type: 'boolean', description: 'run the build container with --privileged instead of named capabilities (env G3_PRIVILEGED=1)' },
    scratch: { type: 'string', value: 'WHERE', description: 'assemble the root filesystem in tmpfs, on disk, or auto (env G3_SCRATCH; default: auto, tmpfs with 4 GiB available)' },
  },
  base: {
    'docker-client': { type: 'string', value: 'BIN', description: 'Docker client (env G3_DOCKER_CLIENT; default: detected)' },
  },
  validate: {
    merged: { type: 'boolean', description: 'print the template merged over its default template' },
  },
};

export interface Invocation {
  target?: string;
  command?: string;
  /** Extra positionals after the command. */
  rest: string[];
  flags: Record<string, string | boolean>;
  help: boolean;
  version: boolean;
}

/** Parse argv (without node and script) for `<target> <command> [options]`. */
export function parseInvocation(argv: string[]): Invocation {
  const commandOptions = Object.assign({}, ...Object.values(COMMAND_OPTIONS)) as Record<string, OptSpec>;
  const options: Record<string, OptSpec> = { ...GLOBAL_OPTIONS, ...commandOptions, version: { type: 'boolean', description: '' } };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v.short ? { type: v.type, short: v.short } : { type: v.type }])), allowPositionals: true, strict: true });
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
  const flags = parsed.values as Record<string, string | boolean>;
  const [target, command, ...rest] = parsed.positionals;
  // Command options are parsed together; refuse those that belong to another command.
  const allowed = new Set([...Object.keys(GLOBAL_OPTIONS), 'version', ...Object.keys(COMMAND_OPTIONS[command ?? ''] ?? {})]);
  for (const name of Object.keys(flags)) {
    if (!allowed.has(name)) throw new UserError(`option --${name} does not apply to ${command ? `the ${command} command` : 'this invocation'}`, 'See --help.');
  }
  return { target, command, rest, flags, help: flags.help === true, version: flags.version === true };
}
