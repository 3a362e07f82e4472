// pre_build, build, push, post_push, all and all-no-push: each is a sequence
// of the pipeline's steps, run by pipeline-run.ts.
import { defineCommand, envHint, type Options, settingOption } from '../command.js';
import { renderSteps, runSteps, type Step } from './pipeline-run.js';

const REPO = '127.0.0.1:5000/team/debian';

const BUILD_OPTIONS: Options = {
  ...settingOption('docker_client', { value: 'BIN', description: `Docker client that builds with BuildKit (${envHint('docker_client')}; default: detected)` }),
  ...settingOption('privileged', { description: `run the build container with --privileged instead of named capabilities (${envHint('privileged')})` }),
  ...settingOption('scratch', {
    value: 'WHERE',
    description: `assemble the root filesystem in tmpfs, on disk, or auto (${envHint('scratch')}; default: auto, tmpfs with 4 GiB available)`,
  }),
  rebuild: { type: 'boolean', description: "build even when the last build's outputs would do (as FORCE_BUILDING=1 does)" },
};

const REPO_OPTIONS: Options = {
  repo: { type: 'string', value: 'REPO', description: "[registry/]repository of the image (wins over DOCKER_REPO; default: the target's)" },
};

interface PipelineDef {
  name: string;
  summary: string;
  steps: readonly Step[];
  options: Options;
  description: string;
  examples: (prog: string) => string[];
}

/** A pipeline command: its steps in order, stopping after pre_build when nothing changed. */
function pipelineCommand(def: PipelineDef) {
  const { steps, ...rest } = def;
  return defineCommand({ ...rest, run: (input) => runSteps(steps, input), render: (results, input) => renderSteps(def.name, steps, results, input) });
}

/** The pipeline commands, in the order help lists them. */
export const pipelineCommands = [
  pipelineCommand({
    name: 'pre_build',
    summary: 'decide whether the image needs building: compare the inputs digest with the last image built or pushed',
    steps: ['pre_build'],
    options: REPO_OPTIONS,
    description: `Works out the inputs digest (the lock, the merged template and the files it copies
in, docker/Dockerfile and .dockerignore, explicit build arguments, the toolkit
version) and compares it with the org.g3-composer.inputs-digest label of the last
image built (local daemon) or pushed (registry). Equal digests: a build would make
the same image again, so build, push and post_push skip, saying why. It refreshes
the target's caches first (locking when there is no lock) and writes its decision
to <work_dir>/.g3-pipeline/<target>/pre_build.json. FORCE_BUILDING=1 builds
anyway; PROHIBIT_BUILDING=1 never builds.`,
    examples: (prog) => [
      `${prog} latest pre_build`,
      `${prog} latest pre_build --json           the decision and both digests`,
      `FORCE_BUILDING=1 ${prog} latest pre_build`,
      `${prog} latest pre_build --repo ${REPO}`,
    ],
  }),
  pipelineCommand({
    name: 'build',
    summary: 'build the disk image in a build container and the image that carries it (skips when pre_build found no change)',
    steps: ['build'],
    options: { ...BUILD_OPTIONS, ...REPO_OPTIONS },
    description: `Refreshes the target's caches (locking first when there is no lock), makes the
base image from the package cache when it is missing, builds the composer image
(docker/Dockerfile, BuildKit, tools from .g3-cache through a bind mount), then
runs the compose stages in a build container without network:
  chroot     <work_dir>/<provider-id>/chrootenv/ and chrootbuild/chrootenv.tar.gz,
             made from the cached base packages, reused while its key matches
  packages   the image's locked packages from a local file repository
  configure  hostname, users, groups, sudo, additionalFiles, configurations, fstab, network
  disk       <work_dir>/<provider-id>/imagebuild/<systemConfig.name>/<name>-<version>.raw
             (.img and .vmlinuz for imageType img, .iso for iso; docs/image-types.md)
An ISO whose template names systemConfig.initramfs builds that template first, as
the target <target>.initramfs with its own lock. The container gets named
capabilities only (see docs/compose.md); --privileged opts in.
Output cache: when the last build of the target here had the same inputs digest
(see pre_build), its outputs are still the files it wrote (size, mtime, inode,
checked without rehashing) and its image is in the daemon, nothing is built and
its result is printed again (--json: "reused"); an image that is gone is made
again from those outputs. --rebuild or FORCE_BUILDING=1 builds anyway.`,
    examples: (prog) => [
      `${prog} latest build`,
      `${prog} latest build --rebuild              build although nothing changed`,
      `${prog} latest build --work-dir /srv/g3-work --verbose`,
      `G3_DOCKER_CLIENT=/usr/bin/docker ${prog} latest build`,
    ],
  }),
  pipelineCommand({
    name: 'push',
    summary: "tag and push the image to the target's registry (credentials from the environment)",
    steps: ['push'],
    options: REPO_OPTIONS,
    description: `Tags the image that build made and pushes it to its registry and repository:
--repo, else DOCKER_REPO, else the target's own. Credentials come from
REGISTRY_USERNAME/REGISTRY_PASSWORD, else DOCKERHUB_USERNAME/DOCKERHUB_PASSWORD;
the password reaches docker login on stdin and is never printed or logged.
A failed push exits 1 and logs out again.`,
    examples: (prog) => [
      `REGISTRY_USERNAME=ci REGISTRY_PASSWORD="$CI_REGISTRY_TOKEN" ${prog} latest push`,
      `${prog} latest push --repo ${REPO}`,
      `DOCKER_REPO=${REPO} ${prog} latest push --json`,
    ],
  }),
  pipelineCommand({
    name: 'post_push',
    summary: 'write the build report (image digest, tags, labels, inputs digest, stage timings, cache hit rates)',
    steps: ['post_push'],
    options: REPO_OPTIONS,
    description: `Writes the build report <work_dir>/<provider-id>/imagebuild/<name>/<stem>.report.json:
image digest, tags, labels, inputs digest, stage timings and cache hit rates.`,
    examples: (prog) => [
      `${prog} latest post_push`,
      `${prog} latest post_push --json           the report on stdout as well`,
      `${prog} latest post_push --work-dir /srv/g3-work`,
    ],
  }),
  pipelineCommand({
    name: 'all',
    summary: 'pre_build → build → push → post_push, stopping early when nothing changed',
    steps: ['pre_build', 'build', 'push', 'post_push'],
    options: { ...BUILD_OPTIONS, ...REPO_OPTIONS },
    description: `Runs pre_build, build, push and post_push in turn, and stops after pre_build
when the inputs digest matches the last image built or pushed. The environment
of push (credentials, DOCKER_REPO) and of pre_build (FORCE_BUILDING,
PROHIBIT_BUILDING) applies.`,
    examples: (prog) => [`${prog} latest all`, `${prog} latest all --repo ${REPO} --json`, `FORCE_BUILDING=1 ${prog} latest all --verbose`],
  }),
  pipelineCommand({
    name: 'all-no-push',
    summary: 'pre_build → build, stopping early when nothing changed',
    steps: ['pre_build', 'build'],
    options: { ...BUILD_OPTIONS, ...REPO_OPTIONS },
    description: `Runs pre_build and build, and stops after pre_build when nothing changed.
Nothing leaves the machine: no registry and no credentials are needed.`,
    examples: (prog) => [
      `${prog} latest all-no-push`,
      `FORCE_BUILDING=1 ${prog} latest all-no-push`,
      `PROHIBIT_BUILDING=1 ${prog} latest all-no-push   decide, but never build`,
    ],
  }),
];
