// Help texts for the builder and its commands.
import { COMMAND_OPTIONS, GLOBAL_OPTIONS } from './args.js';

/** Commands the builder knows, and whether they work yet. */
export const COMMANDS: Record<string, { summary: string; pending?: string }> = {
  cache: { summary: 'refresh the target\'s verified .g3-cache (local → shared → origin)' },
  pre_build: { summary: 'decide whether the image needs building', pending: 'the rebuild decision (issue #6)' },
  build: { summary: 'build the composer image and the raw disk image in a build container' },
  push: { summary: 'push the image to its registry', pending: 'push (issue #6)' },
  post_push: { summary: 'write the build report', pending: 'post_push (issue #6)' },
  all: { summary: 'pre_build → build → push → post_push', pending: 'the pipeline (issue #6)' },
  'all-no-push': { summary: 'pre_build → build', pending: 'the pipeline (issue #6)' },
  validate: { summary: 'validate the target\'s image template (--merged: show it merged over the default)' },
  lock: { summary: 'resolve the template\'s packages from signed metadata and write <target>.lock.json' },
  base: { summary: 'create the base image from the package cache (no registry needed)' },
  inspect: { summary: 'describe a built image file: inspect <image> (partitions, filesystems, OS, packages, SBOM)' },
};

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
    .map(([n, c]) => `  ${n.padEnd(12)} ${c.summary}${c.pending ? ' [not yet available]' : ''}`)
    .join('\n');
  return `Usage: ${prog} <target> <command> [options]

Builds OS images from verified, cached inputs.

Commands:
${cmds}

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
  return `Usage: ${prog} <target> ${command} [options]

${c?.summary ?? ''}${c?.pending ? `\n\nNot yet available: ${c.pending} is still to be built.` : ''}
${ownText}
Global options:
${optionLines(GLOBAL_OPTIONS)}
${examples}`;
}
