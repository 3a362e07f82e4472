// Help texts for the builder and its commands.
import { COMMAND_OPTIONS, GLOBAL_OPTIONS } from './args.js';

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
  'cache status': { summary: 'size, entries and last use per cache tier, provider and section; workspace snapshots', targetless: true, usage: 'cache status [--provider-id ID] [--json]' },
  'cache verify': { summary: 'rehash every cached file; corrupt entries are reported and removed', targetless: true, usage: 'cache verify [--provider-id ID] [--json]' },
  'cache prune': { summary: 'remove least recently used cache entries by age and total size', targetless: true, usage: 'cache prune [--older-than AGE] [--max-size SIZE] [--dry-run] [--json]' },
  'cache clean': { summary: 'remove package caches and/or workspace snapshots', targetless: true, usage: 'cache clean --packages|--workspace|--all [--provider-id ID] [--dry-run] [--json]' },
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
  ${prog} latest cache --shared-cache /srv/g3-cache --workers 16
  ${prog} latest cache --help

Exit codes: 0 success, 1 failure (or --check found work), 2 usage or bad input.
Settings can also come from the environment or a .env file; see .g3-cache.example.
`;
}

const EXAMPLES: Record<string, (prog: string) => string> = {
  build: (prog) => `
Refreshes the target's caches (locking first when there is no lock), makes the
base image from the package cache when it is missing, builds the composer image
(docker/Dockerfile, BuildKit, tools from .g3-cache through a bind mount), then
runs the compose stages in a build container without network:
  chroot     <work_dir>/<provider-id>/chrootenv/ and chrootbuild/chrootenv.tar.gz,
             made from the cached base packages, reused while its key matches
  packages   the image's locked packages from a local file repository
  configure  hostname, users, groups, sudo, additionalFiles, configurations, fstab, network
  disk       <work_dir>/<provider-id>/imagebuild/<systemConfig.name>/<name>-<version>.raw
The container gets named capabilities only (see README); --privileged opts in.

Examples:
  ${prog} latest build
  ${prog} latest build --work-dir /srv/g3-work --verbose
  G3_DOCKER_CLIENT=/usr/bin/docker ${prog} latest build
`,
  base: (prog) => `
Makes g3-composer/base:<provider-id> from the Essential packages of the lock,
taken from the verified package cache: mmdebstrap bootstraps them from a local
file repository (no network) and docker imports the result. \`build\` does this
by itself when the image is missing or was made from other packages; \`base\`
always makes it again. Needs mmdebstrap and apt-utils on the host.

Examples:
  ${prog} latest base
  ${prog} latest base --offline
`,
  validate: (prog) => `
Loads the target's template, merges it over the default template of its
os/dist/arch/imageType (defaults/templates/) and validates the whole. Errors name
file, line and field path (exit 2); unknown keys are warnings.

Examples:
  ${prog} latest validate
  ${prog} latest validate --merged          print the merged template (YAML)
  ${prog} latest validate --merged --json
`,
  lock: (prog) => `
Reads each repository's signed metadata (InRelease checked with gpgv, Packages
indexes checked against the signed SHA256), resolves the template's packages and
the target's tools, and writes <target>.lock.json next to the targets file, plus
chrootpkgs.dot and <target>.dot in <cache_dir>/pkgCache/<provider-id>/.
A lock that matches the template is kept; one that does not is reported.

Examples:
  ${prog} latest lock
  ${prog} latest lock --update              resolve again, list added/removed/changed
  ${prog} latest lock --update --offline    from the last verified metadata
`,
};

/** Help of one command. */
export function commandHelp(prog: string, command: string): string {
  const c = COMMANDS[command];
  const own = COMMAND_OPTIONS[command];
  const ownText = own ? `\nOptions of ${command}:\n${optionLines(own)}\n` : '';
  const examples = EXAMPLES[command]?.(prog) ?? (command === 'cache'
      ? `
Each artifact is looked up in the local tier (.g3-cache/<section>/<file>), then in
the shared tier (SHARED_G3_CACHE_PATH/<section>/<file>), then downloaded; every file
is checked against its size and SHA256 before it is used, and downloads are written
back to the shared tier. Builders may share one shared tier concurrently (also on NFS).

Examples:
  ${prog} latest cache
  ${prog} latest cache --check && echo up to date
  ${prog} latest cache --verify --json
  SHARED_G3_CACHE_PATH=/mnt/g3 ${prog} latest cache --offline

A template target also gets its locked packages into <cache_dir>/pkgCache/<provider-id>/
(locking first when it has no lock) and its composer tools into .g3-cache/composer-<provider-id>/.
`
      : '');
  return `Usage: ${prog} ${c?.usage ?? `<target> ${command} [options]`}

${c?.summary ?? ''}
${ownText}
Global options:
${optionLines(GLOBAL_OPTIONS)}
${examples}`;
}
