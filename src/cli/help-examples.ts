// What each command does in a few lines, and examples: the body of
// `<command> --help`. Kept apart from help.ts so the texts are easy to review.

const PROVIDER = 'debian-debian13-x86_64';
const REPO = '127.0.0.1:5000/team/debian';

/** Description and examples per command (keys of COMMANDS). */
export const EXAMPLES: Record<string, (prog: string) => string> = {
  cache: (prog) => `
Each artifact is looked up in the local tier (.g3-cache/<section>/<file>), then in
the shared tier (SHARED_G3_CACHE_PATH/<section>/<file>), then downloaded; every file
is checked against its size and SHA256 before it is used, and downloads are written
back to the shared tier. Builders may share one shared tier concurrently (also on NFS).
A template target also gets its locked packages into <cache_dir>/pkgCache/<provider-id>/
(locking first when it has no lock) and its composer tools into .g3-cache/composer-<provider-id>/.

Examples:
  ${prog} latest cache
  ${prog} latest cache --check && echo up to date
  ${prog} latest cache --verify --json
  SHARED_G3_CACHE_PATH=/mnt/g3 ${prog} latest cache --offline
`,
  pre_build: (prog) => `
Works out the inputs digest (the lock, the merged template and the files it copies
in, docker/Dockerfile and .dockerignore, explicit build arguments, the toolkit
version) and compares it with the org.g3-composer.inputs-digest label of the last
image built (local daemon) or pushed (registry). Equal digests: a build would make
the same image again, so build, push and post_push skip, saying why. It refreshes
the target's caches first (locking when there is no lock) and writes its decision
to <work_dir>/.g3-pipeline/<target>/pre_build.json. FORCE_BUILDING=1 builds
anyway; PROHIBIT_BUILDING=1 never builds.

Examples:
  ${prog} latest pre_build
  ${prog} latest pre_build --json           the decision and both digests
  FORCE_BUILDING=1 ${prog} latest pre_build
  ${prog} latest pre_build --repo ${REPO}
`,
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
  push: (prog) => `
Tags the image that build made and pushes it to its registry and repository:
--repo, else DOCKER_REPO, else the target's own. Credentials come from
REGISTRY_USERNAME/REGISTRY_PASSWORD, else DOCKERHUB_USERNAME/DOCKERHUB_PASSWORD;
the password reaches docker login on stdin and is never printed or logged.
A failed push exits 1 and logs out again.

Examples:
  REGISTRY_USERNAME=ci REGISTRY_PASSWORD="$CI_REGISTRY_TOKEN" ${prog} latest push
  ${prog} latest push --repo ${REPO}
  DOCKER_REPO=${REPO} ${prog} latest push --json
`,
  post_push: (prog) => `
Writes the build report <work_dir>/<provider-id>/imagebuild/<name>/<stem>.report.json:
image digest, tags, labels, inputs digest, stage timings and cache hit rates.

Examples:
  ${prog} latest post_push
  ${prog} latest post_push --json           the report on stdout as well
  ${prog} latest post_push --work-dir /srv/g3-work
`,
  all: (prog) => `
Runs pre_build, build, push and post_push in turn, and stops after pre_build
when the inputs digest matches the last image built or pushed. The environment
of push (credentials, DOCKER_REPO) and of pre_build (FORCE_BUILDING,
PROHIBIT_BUILDING) applies.

Examples:
  ${prog} latest all
  ${prog} latest all --repo ${REPO} --json
  FORCE_BUILDING=1 ${prog} latest all --verbose
`,
  'all-no-push': (prog) => `
Runs pre_build and build, and stops after pre_build when nothing changed.
Nothing leaves the machine: no registry and no credentials are needed.

Examples:
  ${prog} latest all-no-push
  FORCE_BUILDING=1 ${prog} latest all-no-push
  PROHIBIT_BUILDING=1 ${prog} latest all-no-push   decide, but never build
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
  list: (prog) => `
Reads the target catalogue (docker/targets.yml, or --targets / G3_TARGETS) and
prints each target with its template, provider id and image tags.

Examples:
  ${prog} list
  ${prog} list --targets ci/targets.yml
  ${prog} list --json
`,
  inspect: (prog) => `
Describes any output of build without mounting or changing it: format and
compression, SHA256, partitions, filesystems, OS release, installed package
count, the SBOM inside and the bootloader. A compressed or non-raw file is
unpacked to a temporary raw copy in temp_dir (G3_TEMP_DIR) first. A file that
is not an image, or an image that refers to other files (VMDK extents or
parent, qcow2 backing or data file), exits 2; no referred file is opened.

Examples:
  ${prog} inspect workspace/${PROVIDER}/imagebuild/minimal/minimal-1.0.raw
  ${prog} inspect out/minimal-1.0.qcow2.zst --json
`,
  'cache status': (prog) => `
Size, entry count and newest last use per tier (local and shared g3-cache,
package cache), provider and section, and the workspace snapshots (chroot and
installed-package keys). Changes nothing.

Examples:
  ${prog} cache status
  ${prog} cache status --provider-id ${PROVIDER}
  ${prog} cache status --json
`,
  'cache verify': (prog) => `
Rehashes every cached file in every tier against its recorded SHA256. Corrupt
entries are reported and removed with their stamps, under the same locks a
build takes; good ones are never touched. Exit 1 when something was corrupt.

Examples:
  ${prog} cache verify
  ${prog} cache verify --provider-id ${PROVIDER} --json
  SHARED_G3_CACHE_PATH=/mnt/g3 ${prog} cache verify
`,
  'cache prune': (prog) => `
Removes cache entries least recently used first, by their recorded last use
(not atime): --older-than removes those unused for longer than AGE (30m, 12h,
180d, 2w), then --max-size removes more until the caches fit in SIZE (500M,
20G, 1.5T; K, M, G, T and KiB, MiB, ... are powers of 1024, KB, MB, GB powers
of 1000, as in templates). At least one of the two is required. Entries that a
running build holds are skipped and reported.

Examples:
  ${prog} cache prune --older-than 180d --max-size 20G
  ${prog} cache prune --max-size 500M --dry-run
  ${prog} cache prune --older-than 2w --json
`,
  'cache clean': (prog) => `
Removes the package caches and g3-cache sections (--packages), the workspace
snapshots and image builds (--workspace), or both (--all); exactly one of the
three is required. --provider-id limits it to one provider.

Examples:
  ${prog} cache clean --workspace --dry-run
  ${prog} cache clean --packages --provider-id ${PROVIDER}
  ${prog} cache clean --all
`,
  'config show': (prog) => `
Prints each setting's effective value and where it came from. The first source
that sets a value wins: flags > environment > .env > config file > defaults.
The config file is --config, G3_CONFIG, ./g3-composer.yml,
~/.config/g3-composer/config.yml or /etc/g3-composer/config.yml: the first that
exists (files are not merged).

Examples:
  ${prog} config show
  G3_WORKERS=16 ${prog} config show --workers 4   the flag wins
  ${prog} config show --config ci/g3-composer.yml --json
`,
};
