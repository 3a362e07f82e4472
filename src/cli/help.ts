// Help texts for the builder and its commands.
import { COMMAND_OPTIONS, GLOBAL_OPTIONS } from './args.js';
import { EXAMPLES } from './help-examples.js';

/** Commands the builder knows: target commands take `<target>` first; the others none. */
export const COMMANDS: Record<string, { summary: string; targetless?: boolean; usage?: string }> = {
  cache: { summary: "refresh the target's verified .g3-cache (local → shared → origin)" },
  pre_build: { summary: 'decide whether the image needs building: compare the inputs digest with the last image built or pushed' },
  build: { summary: 'build the disk image in a build container and the image that carries it (skips when pre_build found no change)' },
  push: { summary: "tag and push the image to the target's registry (credentials from the environment)" },
  post_push: { summary: 'write the build report (image digest, tags, labels, inputs digest, stage timings, cache hit rates)' },
  all: { summary: 'pre_build → build → push → post_push, stopping early when nothing changed' },
  'all-no-push': { summary: 'pre_build → build, stopping early when nothing changed' },
  validate: { summary: "validate the target's image template (--merged: show it merged over the default)" },
  lock: { summary: "resolve the template's packages from signed metadata and write <target>.lock.json" },
  base: { summary: 'create the base image from the package cache (no registry needed)' },
  list: { summary: 'list the targets with their template, provider id and image tags', targetless: true, usage: 'list [--json]' },
  inspect: { summary: 'describe a built image file (partitions, filesystems, OS, packages, SBOM)', targetless: true, usage: 'inspect <image> [--json]' },
  'cache status': {
    summary: 'size, entries and last use per cache tier, provider and section; workspace snapshots',
    targetless: true,
    usage: 'cache status [--provider-id ID] [--json]',
  },
  'cache verify': {
    summary: 'rehash every cached file; corrupt entries are reported and removed',
    targetless: true,
    usage: 'cache verify [--provider-id ID] [--json]',
  },
  'cache prune': {
    summary: 'remove least recently used cache entries by age and total size',
    targetless: true,
    usage: 'cache prune [--older-than AGE] [--max-size SIZE] [--dry-run] [--json]',
  },
  'cache clean': {
    summary: 'remove package caches and/or workspace snapshots',
    targetless: true,
    usage: 'cache clean --packages|--workspace|--all [--provider-id ID] [--dry-run] [--json]',
  },
  'config show': { summary: 'print the effective settings and where each came from', targetless: true, usage: 'config show [--json]' },
};

/** Commands that take a target. */
export const TARGET_COMMANDS = Object.keys(COMMANDS).filter((c) => !COMMANDS[c]?.targetless);

function optionLines(opts: typeof GLOBAL_OPTIONS): string {
  return Object.entries(opts)
    .map(([name, o]) => {
      const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
      return `  ${left.padEnd(26)} ${o.description}`;
    })
    .join('\n');
}

/** The builder's main help. */
export function mainHelp(prog: string): string {
  const cmds = Object.entries(COMMANDS)
    .filter(([, c]) => !c.targetless)
    .map(([n, c]) => `  ${n.padEnd(14)} ${c.summary}`)
    .join('\n');
  const other = Object.entries(COMMANDS)
    .filter(([, c]) => c.targetless)
    .map(([n, c]) => `  ${n.padEnd(14)} ${c.summary}`)
    .join('\n');
  return `Usage: ${prog} <target> <command> [options]
       ${prog} <command> [options]      (list, inspect, cache status|verify|prune|clean, config show)

Builds OS images from verified, cached inputs.

Target commands:
${cmds}

Other commands:
${other}

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

/** Help of one command: what it does, its options, then examples. */
export function commandHelp(prog: string, command: string): string {
  const c = COMMANDS[command];
  const own = COMMAND_OPTIONS[command];
  const ownText = own ? `\nOptions of ${command}:\n${optionLines(own)}\n` : '';
  const text = EXAMPLES[command]?.(prog) ?? '';
  const at = text.indexOf('\nExamples:\n');
  const about = at < 0 ? text : text.slice(0, at);
  const examples = at < 0 ? '' : text.slice(at);
  return `Usage: ${prog} ${c?.usage ?? `<target> ${command} [options]`}

${c?.summary ?? ''}
${about}${ownText}
Global options:
${optionLines(GLOBAL_OPTIONS)}
${examples}`;
}
