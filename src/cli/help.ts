// Help texts for the builder and its commands, from the registry.
import type { Command, Options } from './command.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { COMMANDS, findCommand, targetlessWords } from './registry.js';

function optionLines(opts: Options): string {
  return Object.entries(opts)
    .map(([name, o]) => {
      const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
      return `  ${left.padEnd(26)} ${o.description}`;
    })
    .join('\n');
}

const commandLines = (commands: readonly Command[]) => commands.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`).join('\n');

/** The target-less commands in a few words: `list, inspect, cache status|verify|prune|clean, config show`. */
function targetlessList(): string {
  return [...targetlessWords()]
    .map(([word, cs]) => {
      const subs = cs.filter((c) => c.name !== word).map((c) => c.name.slice(word.length + 1));
      return subs.length ? `${word} ${subs.join('|')}` : word;
    })
    .join(', ');
}

/** The builder's main help. */
export function mainHelp(prog: string): string {
  return `Usage: ${prog} <target> <command> [options]
       ${prog} <command> [options]      (${targetlessList()})

Builds OS images from verified, cached inputs.

Target commands:
${commandLines(COMMANDS.filter((c) => !c.targetless))}

Other commands:
${commandLines(COMMANDS.filter((c) => c.targetless))}

Options (every command, anywhere after the command):
${optionLines(GLOBAL_OPTIONS)}

Examples:
  ${prog} latest cache                      fill docker/.g3-cache for the target "latest"
  ${prog} latest cache --check              exit 1 if the cache needs a refresh, changing nothing
  ${prog} latest all-no-push                build the image when its inputs changed
  ${prog} latest build --help               what build does, its options and examples
  ${prog} cache status --json

Settings: the first source that sets a value wins: flags > environment > .env >
config file > defaults; .g3-cache.example documents each one, and
\`${prog} config show\` prints each value and where it came from.

Output: results on stdout (--json: one JSON document), diagnostics on stderr; a
progress bar only on a terminal, plain lines under CI, NO_COLOR, TERM=dumb or a
pipe. Commands other than inspect and config show append to a run log (default
<work_dir>/logs/g3-composer.log; G3_LOG_FILE, "none" for no log; G3_LOG_LEVEL
error|warn|info|debug, debug adds every external command with its duration).

Exit codes:
  0    success
  1    failure (a download, a tool, a push), or --check found work
  2    usage or bad input (unknown command or option, bad template or settings)
  130  interrupted by Ctrl-C (SIGINT); 143 on SIGTERM, 129 on SIGHUP; temporary
       files and locks are removed first
`;
}

/** Help of one command: usage, what it does, its options, the global options, then examples. */
export function commandHelp(prog: string, command: Command | string): string {
  const c = typeof command === 'string' ? findCommand(command) : command;
  if (c === undefined) return mainHelp(prog);
  const own = Object.keys(c.options).length ? `\nOptions of ${c.name}:\n${optionLines(c.options)}\n` : '';
  return `Usage: ${prog} ${c.usage}

${c.summary}

${c.description}
${own}
Global options:
${optionLines(GLOBAL_OPTIONS)}

Examples:
${c
  .examples(prog)
  .map((line) => `  ${line}`)
  .join('\n')}
`;
}
