// Every command of the builder, in the order the main help lists them. Help,
// argument parsing, the hooks' flags and the dispatcher all read this list.
import type { Command } from './command.js';
import { baseCommand } from './commands/base.js';
import { cacheCleanCommand, cachePruneCommand, cacheStatusCommand, cacheVerifyCommand } from './commands/cache-admin.js';
import { cacheCommand } from './commands/cache.js';
import { configShowCommand } from './commands/config.js';
import { inspectCommand } from './commands/inspect.js';
import { listCommand } from './commands/list.js';
import { lockCommand } from './commands/lock.js';
import { pipelineCommands } from './commands/pipeline.js';
import { validateCommand } from './commands/validate.js';

/** Target commands first (`<target> <command>`), then the target-less ones. */
export const COMMANDS: readonly Command[] = [
  cacheCommand,
  ...pipelineCommands,
  validateCommand,
  lockCommand,
  baseCommand,
  listCommand,
  inspectCommand,
  cacheStatusCommand,
  cacheVerifyCommand,
  cachePruneCommand,
  cacheCleanCommand,
  configShowCommand,
];

/**
 * Group words that are never a target name: `config <x>` is always a config
 * subcommand (a missing or unknown one is refused), while `cache <x>` is the
 * target "cache" unless <x> is one of cache's subcommands.
 */
export const RESERVED_GROUPS: ReadonlySet<string> = new Set(['config']);

/** The command of this name: `cache`, `list`, `cache status`. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Names of the commands that take a target. */
export const TARGET_COMMANDS: readonly string[] = COMMANDS.filter((c) => !c.targetless).map((c) => c.name);

/** Target-less commands by their first word: `list` alone, `cache` with status, verify, prune and clean. */
export function targetlessWords(): Map<string, Command[]> {
  const words = new Map<string, Command[]>();
  for (const c of COMMANDS.filter((x) => x.targetless)) {
    const word = c.name.split(' ')[0] ?? c.name;
    words.set(word, [...(words.get(word) ?? []), c]);
  }
  return words;
}
