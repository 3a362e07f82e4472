// The finalize stage: the raw disk image becomes the artifacts the template
// lists (qcow2, vhd, vhdx, vmdk through qemu-img, each optionally gzip, xz or
// zstd compressed), formats side by side and every compressor on every core.
// The commands run through the Runner, since the image may live inside the
// build container; gz is written here (gzip.ts), from the build directory this
// machine sees at the same path. Every output is made in a scratch directory
// and renamed into place, so a failure never leaves a half file under a final name.
import { lstat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { gzipFile } from './gzip.js';
import { hashFile } from '../../fs/hash.js';
import { messageOf, StepError, UserError } from '../../errors.js';
import type { Emit } from '../../log/events.js';
import type { ImageTemplate } from '../../template/types.js';
import { FORMATS } from '../../template/artifacts.js';
import { artifactPlan, COMPRESS_ENV, compressCommand, convertCommand, imageStem, keepsRaw, type PlannedArtifact, workDirFor } from './plan.js';
import type { Runner, StepOptions } from '../../docker/runner.js';

export interface FinalizeOptions {
  /** The raw image the compose stage wrote (a path where the runner runs). */
  rawImage: string;
  /** Where the artifacts go; must be visible on this machine at the same path, for hashing. */
  buildDir: string;
  template: ImageTemplate;
  emit: Emit;
  /**
   * Told of the artifacts, in template order, once every one is under its
   * final name, before they are all hashed; the caller may read them
   * meanwhile (the image that carries them), never change them.
   */
  onReady?: (artifacts: ReadyArtifact[]) => void;
}

/** An artifact under its final name, as onReady is told of it (before it is hashed). */
export interface ReadyArtifact {
  file: string;
  path: string;
  type: string;
  compression?: string;
  size: number;
}

export interface FinalArtifact {
  file: string;
  path: string;
  type: string;
  compression?: string;
  size: number;
  sha256: string;
}

/** The Debian package of each tool, named when a tool is missing where the build runs. */
const PACKAGES: Record<string, string> = { 'qemu-img': 'qemu-utils', xz: 'xz-utils', zstd: 'zstd' };

/**
 * Turn the raw image into every artifact of the template's `disk.artifacts`;
 * returns them hashed, in template order. Each format is converted beside the
 * others, and each of its compressions runs beside the others once it exists.
 */
export async function finalizeArtifacts(runner: Runner, o: FinalizeOptions): Promise<FinalArtifact[]> {
  const plan = artifactPlan(o.template);
  const raw = path.resolve(o.rawImage);
  const work = workDirFor(o.buildDir, o.template);

  // A scratch directory left by an interrupted build is stale by definition.
  await step(runner, `preparing ${work}`, ['rm', '-rf', '--', work]);
  await step(runner, `preparing ${work}`, ['mkdir', '-p', '--', work]);
  // Each artifact is hashed as soon as it is under its final name, beside the formats and compressions still running
  // (the vhdx of the OS Image Composer template is made in 0.7 s, its raw.gz in 15 s).
  const digests = new Map<string, Promise<FinalArtifact>>();
  const made = (a: PlannedArtifact) => {
    if (digests.has(a.file)) return;
    const digest = hashed(a, o.buildDir);
    // Met below, or not at all when another artifact failed.
    digest.catch(() => undefined);
    digests.set(a.file, digest);
  };
  const finalRaw = path.resolve(o.buildDir, `${imageStem(o.template)}.raw`);
  // A raw image kept where it was made is final already: the formats and compressions only read it.
  if (raw === finalRaw) for (const a of plan) if (a.type === 'raw' && !a.compression) made(a);
  try {
    // Settled, not raced: the scratch directory is removed only once every command has ended.
    await allDone([...groupByType(plan)].map(([type, artifacts]) => makeType(runner, o, { type, artifacts, raw, work, made })));
  } finally {
    // Not removing the scratch directory is worth a warning, never worth hiding the step's own error.
    const r = await runner.run(['rm', '-rf', '--', work], { reject: false }).catch((err: unknown) => ({ exitCode: -1, stderr: messageOf(err) }));
    if (r.exitCode !== 0) o.emit({ type: 'warning', message: `could not remove the scratch directory ${work}: ${r.stderr.trim()}; the next build removes it` });
  }
  await placeRaw(runner, plan, raw, finalRaw, (message) => o.emit({ type: 'info', message }));
  for (const a of plan) if (a.type === 'raw' && !a.compression) made(a);
  // Told only now, not as each artifact is made: reading one (the image's import: 3 s of CPU per GB on two cores)
  // while a compression still runs slowed the OS Image Composer template's raw.gz from 15 s to 25 s.
  if (o.onReady) {
    const ready: ReadyArtifact[] = [];
    for (const a of plan) {
      const file = path.join(o.buildDir, a.file);
      ready.push({ ...a, path: file, size: (await lstat(file)).size });
    }
    o.onReady(ready);
  }
  return Promise.all(plan.map((a) => digests.get(a.file) ?? hashed(a, o.buildDir)));
}

/** Wait for every promise; then throw the first failure, if any. */
async function allDone(promises: Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

interface TypeJob {
  type: string;
  artifacts: PlannedArtifact[];
  raw: string;
  work: string;
  /** Says an artifact is under its final name (its hash starts). */
  made: (a: PlannedArtifact) => void;
}

/** One format's artifacts: the conversion (or a link to the raw image), its compressions side by side, the renames. */
async function makeType(runner: Runner, o: FinalizeOptions, j: TypeJob): Promise<void> {
  const made = j.artifacts.filter((a) => j.type !== 'raw' || a.compression);
  if (made.length === 0) return;
  const say = (message: string) => o.emit({ type: 'info', message });
  const src = path.join(j.work, `${imageStem(o.template)}.${(FORMATS[j.type] as { ext: string }).ext}`);
  if (j.type === 'raw') {
    // gzip and xz write their output beside their input: a link puts it in the scratch directory.
    await step(runner, `linking ${j.raw} into ${j.work}`, ['ln', '-s', '--', j.raw, src]);
  } else {
    say(`converting ${path.basename(j.raw)} to ${j.type}`);
    const spec = FORMATS[j.type];
    if (spec && !spec.reproducible) o.emit({ type: 'debug', message: `${j.type} artifacts differ between builds of the same image: ${spec.note}` });
    await step(runner, `making ${made.map((a) => a.file).join(', ')}: converting ${j.raw} to ${j.type}`, convertCommand(j.type, j.raw, src));
  }
  await allDone(
    made.flatMap((a) => {
      if (!a.compression) return [];
      if (a.compression === 'gz') {
        // Here, not where the runner runs: the raw image (or the converted file) is read on this machine, holes skipped.
        say(`compressing ${a.file} with gz (every core, holes skipped)`);
        const from = j.type === 'raw' ? j.raw : src;
        return [
          gzipFile(from, path.join(j.work, a.file), { jobs: availableParallelism() + 1 }).then(
            () => undefined,
            (err: unknown) => {
              throw new StepError(`finalize: making ${a.file}: compressing ${from} with gz failed: ${messageOf(err)}`, { cause: err });
            },
          ),
        ];
      }
      say(`compressing ${a.file} with ${a.compression}`);
      return [step(runner, `making ${a.file}: compressing with ${a.compression}`, compressCommand(a.compression, src), { env: { ...COMPRESS_ENV } })];
    }),
  );
  for (const a of made) {
    await step(runner, `moving ${a.file} into ${o.buildDir}`, ['mv', '-f', '-T', '--', path.join(j.work, a.file), path.join(o.buildDir, a.file)]);
    j.made(a);
  }
}

/** Keep the raw image under its final name when it is an artifact, otherwise remove it. */
async function placeRaw(runner: Runner, plan: readonly PlannedArtifact[], raw: string, finalRaw: string, say: (m: string) => void): Promise<void> {
  if (keepsRaw(plan)) {
    if (raw !== finalRaw) await step(runner, `moving ${raw} to ${finalRaw}`, ['mv', '-f', '-T', '--', raw, finalRaw]);
    return;
  }
  say(`removing ${path.basename(raw)}: no artifact is an uncompressed raw image`);
  await step(runner, `removing ${raw}`, ['rm', '-f', '--', raw]);
}

/** The artifacts of each type together, types in order of first mention, so each conversion runs once. */
function groupByType(plan: readonly PlannedArtifact[]): Map<string, PlannedArtifact[]> {
  const groups = new Map<string, PlannedArtifact[]>();
  for (const a of plan) groups.set(a.type, [...(groups.get(a.type) ?? []), a]);
  return groups;
}

async function hashed(a: PlannedArtifact, buildDir: string): Promise<FinalArtifact> {
  const file = path.join(buildDir, a.file);
  const digest = await hashFile(file).catch((err: unknown) => {
    throw new StepError(`cannot read the artifact ${file} to hash it: ${messageOf(err)}`, { cause: err });
  });
  return { file: a.file, path: file, type: a.type, ...(a.compression ? { compression: a.compression } : {}), size: digest.size, sha256: digest.sha256 };
}

/** Run one command; a failure becomes a StepError that says which artifact it was making. */
async function step(runner: Runner, what: string, argv: string[], opts?: StepOptions): Promise<void> {
  try {
    await runner.run(argv, opts);
  } catch (err) {
    if (err instanceof UserError) throw err;
    const d = err instanceof StepError ? err.details : {};
    const tool = argv[0] ?? '';
    const missing = d.exitCode === 127 && PACKAGES[tool] ? ` (${tool} not found: install the Debian package ${PACKAGES[tool]} in ${runner.where})` : '';
    throw new StepError(`finalize: ${what} failed${missing}: ${messageOf(err)}`, {
      command: d.command ?? argv,
      exitCode: d.exitCode,
      stderr: d.stderr,
      cause: err,
    });
  }
}
