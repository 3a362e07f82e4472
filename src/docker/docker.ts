// The Docker operations a build needs, over one detected client. Each call
// asks docker for machine-readable answers (--iidfile, inspect JSON, ids on
// stdout) and turns failures into errors that name the image or container.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StepOptions } from './runner.js';
import { StepError } from '../errors.js';
import { makeTempDir } from '../fs/temp.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type DuplexRun, type RunOptions, type RunResult, run, runDuplex, runSyncQuietly } from '../exec.js';
import { AGENT_SCRIPT } from './exec-agent.js';
import { type DetectOptions, type DockerClient, detectClient, ensureDaemon } from './client.js';
import {
  type BuildOptions,
  buildCommand,
  type ContainerSpec,
  type DockerCommand,
  execCommand,
  importCommand,
  importDockerfile,
  loadCommand,
  inspectImageCommand,
  removeCommand,
  removeImageCommand,
  runDetachedCommand,
  tagCommand,
} from './commands.js';

export interface ImageInfo {
  id: string;
  labels: Record<string, string>;
  /** RFC 3339 time the image was created. */
  created: string;
  /** The diff ids of its layers (RootFS.Layers), first layer first. */
  layers: string[];
  /** The names it has (RepoTags). */
  tags: string[];
}

/** How many lines of a failed build's output go into the error message. */
const TAIL_LINES = 20;

/** Keeps the last `size` lines seen, while passing each on. */
function tailKeeper(size: number, forward?: (line: string) => void) {
  const lines: string[] = [];
  return {
    lines,
    onLine(line: string) {
      lines.push(line);
      if (lines.length > size) lines.shift();
      forward?.(line);
    },
  };
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** Run a docker command; on failure throw a StepError that says what we were doing. */
async function call(cmd: DockerCommand, what: string, opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, { ...opts, env: { ...cmd.env, ...opts.env }, reject: false });
  if (r.exitCode !== 0 && opts.reject !== false) throw failed(cmd, what, r);
  return r;
}

function failed(cmd: DockerCommand, what: string, r: RunResult): StepError {
  return new StepError(`${what} failed (exit code ${r.exitCode}): ${lastLines(r.stderr, 3).replace(/\n/g, ' | ')}`, {
    command: [cmd.command, ...cmd.args],
    exitCode: r.exitCode,
    stderr: r.stderr,
  });
}

/**
 * Run a docker command that reads the bytes `source` gives on its stdin as
 * they come (`docker load`, `docker import -`); returns its stdout. A failure
 * of `source` stops the command and is thrown; the command's own failure is
 * thrown with its last words, as `what` failed.
 */
async function feed(cmd: DockerCommand, source: AsyncIterable<Uint8Array>, what: string): Promise<string> {
  const proc = runDuplex(cmd, { env: cmd.env });
  // Read what it prints as it goes, so it never waits on a full pipe.
  const out: Buffer[] = [];
  const drained = (async () => {
    for await (const chunk of proc.stdout) out.push(chunk);
  })();
  // A write to a command that has exited fails with EPIPE: its own exit then says why.
  const sourceFailure = await pipeline(Readable.from(source), proc.stdin).then(
    () => undefined,
    (err: unknown) => err,
  );
  const ownFailure = sourceFailure !== undefined && (sourceFailure as { code?: string }).code !== 'EPIPE';
  // A source that failed leaves a truncated stream: the command must not take it.
  if (ownFailure) proc.stop();
  const r = await proc.done;
  await drained.catch(() => undefined);
  if (ownFailure) throw sourceFailure;
  if (r.exitCode !== 0) throw failed(cmd, what, r);
  if (sourceFailure !== undefined) throw sourceFailure;
  return Buffer.concat(out).toString('utf8');
}

/** The Docker client `opts` names (or the first that builds with BuildKit), once a daemon answers it. */
export async function connectDocker(opts: DetectOptions): Promise<Docker> {
  const client = await detectClient(opts);
  await ensureDaemon(client);
  return new Docker(client);
}

/** Docker, through one client chosen by detectClient. */
export class Docker {
  constructor(readonly client: DockerClient) {}

  /** An image's id, labels and creation time; undefined when no such image exists. */
  async imageInspect(ref: string): Promise<ImageInfo | undefined> {
    const cmd = inspectImageCommand(this.client, ref);
    const r = await call(cmd, `inspecting image ${ref}`, { reject: false });
    if (r.exitCode !== 0) {
      if (/no such (image|object)/i.test(r.stderr)) return undefined;
      throw new StepError(`inspecting image ${ref} failed (exit code ${r.exitCode}): ${lastLines(r.stderr, 3)}`, {
        command: [cmd.command, ...cmd.args],
        exitCode: r.exitCode,
        stderr: r.stderr,
      });
    }
    const doc = JSON.parse(r.stdout) as {
      Id: string;
      Created: string;
      Config?: { Labels?: Record<string, string> | null };
      RootFS?: { Layers?: string[] };
      RepoTags?: string[] | null;
    };
    return { id: doc.Id, labels: doc.Config?.Labels ?? {}, created: doc.Created, layers: doc.RootFS?.Layers ?? [], tags: doc.RepoTags ?? [] };
  }

  /** Build an image with BuildKit; the id comes from --iidfile, the output goes to onLine. */
  async build(opts: Omit<BuildOptions, 'iidfile'> & { onLine?: (line: string) => void }): Promise<{ imageId: string }> {
    const { onLine, ...buildOpts } = opts;
    const dir = await makeTempDir('g3-build-');
    try {
      const iidfile = path.join(dir, 'iid');
      const cmd = buildCommand(this.client, { ...buildOpts, iidfile });
      const tail = tailKeeper(TAIL_LINES, onLine);
      const r = await run(cmd, { env: cmd.env, reject: false, onLine: tail.onLine });
      if (r.exitCode !== 0) {
        const where = opts.dockerfile ?? path.join(opts.context, 'Dockerfile');
        throw new StepError(`docker build of ${where} failed (exit code ${r.exitCode}); last lines of its output:\n${tail.lines.join('\n')}`, {
          command: [cmd.command, ...cmd.args],
          exitCode: r.exitCode,
          stderr: r.stderr,
        });
      }
      const imageId = (await readFile(iidfile, 'utf8')).trim();
      return { imageId };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Load a `docker save` archive; the caller checks by inspecting what it named. */
  async load(archive: string): Promise<void> {
    await call(loadCommand(this.client, archive), `loading ${archive}`);
  }

  /**
   * Load the `docker save` archive whose bytes `source` gives, as they come
   * (no archive file is written). A failure of `source` stops docker load and
   * is thrown; docker load's own failure is thrown with its last words.
   */
  async loadStream(source: AsyncIterable<Uint8Array>, what: string): Promise<void> {
    await feed(loadCommand(this.client), source, `docker load of ${what}`);
  }

  /**
   * Make an image of one layer from the tarball whose bytes `source` gives
   * (`docker import -`, no name). The daemon applies the layer as it comes,
   * where `docker load` first writes its whole archive to a temporary
   * directory and then reads it back. Returns the new image's id and its
   * layer's diff id (the SHA256 of the tarball as the daemon read it).
   */
  async importStream(source: AsyncIterable<Uint8Array>, what: string): Promise<{ id: string; diffId: string }> {
    const id = (await feed(importCommand(this.client, '-'), source, `docker import of ${what}`)).trim();
    const refused = (why: string) => new StepError(`docker import of ${what} gave ${JSON.stringify(id.slice(0, 80))}: ${why}`);
    if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw refused('not an image id');
    const layers = (await this.imageInspect(id))?.layers;
    if (layers?.length !== 1) throw refused(layers ? `an image of ${layers.length} layers, not one` : 'no such image');
    return { id, diffId: layers[0] as string };
  }

  /**
   * Make an image from a root filesystem tarball; returns the new image's id.
   * With `platform` (a foreign architecture) it is a BuildKit build from
   * scratch instead of `docker import`, so the image records that platform.
   */
  async importTar(tar: string, ref: string, changes: string[] = [], platform?: string): Promise<string> {
    if (!platform) {
      const r = await call(importCommand(this.client, tar, ref, changes), `importing ${tar} as image ${ref}`);
      return r.stdout.trim();
    }
    const dir = await makeTempDir('g3-import-');
    try {
      const dockerfile = path.join(dir, 'Dockerfile');
      await writeFile(dockerfile, importDockerfile(path.basename(tar), changes), { flag: 'wx' });
      const { imageId } = await this.build({ context: path.dirname(tar), dockerfile, tags: [ref], buildArgs: {}, labels: {}, platform });
      return imageId;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Start the build container in the background; returns its id. */
  async runDetached(spec: ContainerSpec): Promise<string> {
    const r = await call(runDetachedCommand(this.client, spec), `starting container ${spec.name} from image ${spec.image}`);
    return r.stdout.trim();
  }

  /** Run one step inside a running container (stdin when `input` is given). */
  async exec(container: string, argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    const cmd = execCommand(this.client, container, argv, { interactive: opts.input !== undefined, env: opts.env });
    return call(cmd, `${argv.join(' ')} in container ${container}`, { input: opts.input, reject: opts.reject, onLine: opts.onLine });
  }

  /**
   * The error `exec` throws for `r`, for a step run another way (through an
   * exec agent): the same message, naming the `docker exec` it stands for.
   */
  execFailed(container: string, argv: string[], opts: StepOptions, r: RunResult): StepError {
    const cmd = execCommand(this.client, container, argv, { interactive: opts.input !== undefined, env: opts.env });
    return failed(cmd, `${argv.join(' ')} in container ${container}`, r);
  }

  /** Start an exec agent in a running container (exec-agent.ts): `docker exec -i <container> perl -e <agent>`. */
  startExecAgent(container: string): DuplexRun {
    const cmd = execCommand(this.client, container, ['perl', '-e', AGENT_SCRIPT], { interactive: true });
    return runDuplex(cmd, { env: cmd.env });
  }

  /** Remove a container, whether it runs or not. */
  async remove(container: string): Promise<void> {
    await call(removeCommand(this.client, container), `removing container ${container}`);
  }

  /** Remove an image that nothing else names or uses; true when docker removed it. */
  async removeImageIfUnused(image: string): Promise<boolean> {
    const r = await call(removeImageCommand(this.client, image), `removing image ${image}`, { reject: false });
    return r.exitCode === 0;
  }

  /** Remove a container synchronously, ignoring failure: for signal and exit handlers. */
  removeSync(container: string): void {
    runSyncQuietly(removeCommand(this.client, container));
  }

  /** Give an image another name. */
  async tag(source: string, target: string): Promise<void> {
    await call(tagCommand(this.client, source, target), `tagging image ${source} as ${target}`);
  }
}
