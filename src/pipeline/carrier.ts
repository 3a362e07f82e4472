// The image `build` makes around a disk image, so registries can store and
// ship it: the artifacts under /disk/ (as KubeVirt's containerDisk expects
// them), the SBOM and the manifest beside them, and labels that name its
// inputs. An uncompressed raw image goes in as qcow2: qemu-img skips its
// holes, so the layer holds the data, not 4 GiB of zeros, and
// `qemu-img convert -O raw` gives back the raw file byte for byte.
// The image is assembled here (layer tarball with clamped times, config with
// the build's SOURCE_DATE_EPOCH) and loaded with `docker load`, so the same
// disk image gives the same image id (see image-archive.ts).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ComposeResult } from '../compose/compose.js';
import type { ReadyArtifact } from '../compose/outputs/finalize.js';
import type { Docker } from '../docker/docker.js';
import { StepError } from '../errors.js';
import { run } from '../exec.js';
import { imageConfig, saveManifest } from './image-archive.js';
import type { Emit } from '../log/events.js';
import { type TarEntry, tarSize, tarStream } from './tar.js';

export interface CarrierInput {
  docker: Docker;
  compose: ComposeResult;
  /** Every reference the image gets (one per tag). */
  refs: string[];
  labels: Record<string, string>;
  /** The image's creation time and the layer's file times (the build's SOURCE_DATE_EPOCH). */
  epoch: number;
  /** The disk image's Debian architecture (`arm64`), recorded as the image's; default amd64. */
  architecture?: string;
  emit: Emit;
}

export interface Carrier {
  imageId: string;
  refs: string[];
  labels: Record<string, string>;
  /** Files under /disk/ and what each was made from. */
  files: { name: string; from: string; converted?: 'qcow2'; without?: 'timings' }[];
}

/** Where the carrier's scratch files (the qcow2 of a raw image) are made, inside the image build directory. */
export const CARRIER_DIR = '.carrier';

type CarrierFile = Carrier['files'][number];

/** One file of the layer: its tar entry and what it was made from. */
interface LayerPart {
  entry: TarEntry;
  file: CarrierFile;
}

/** An artifact as the layer takes it (a FinalArtifact, or a ReadyArtifact before it is hashed). */
type LayerArtifact = Pick<ReadyArtifact, 'file' | 'path' | 'type' | 'compression' | 'size'>;

const DISK_DIR: TarEntry = { name: 'disk', type: 'dir' };

/**
 * Build the carrier image from a finished compose; returns its id. The layer:
 * /disk/, the artifacts in template order, the SBOM, the manifest (the
 * order in which a build that streams its layer gives them, see startCarrier).
 */
export async function buildCarrier(o: CarrierInput): Promise<Carrier> {
  const scratch = await freshScratch(path.join(o.compose.buildDir, CARRIER_DIR));
  try {
    const parts: LayerPart[] = [];
    for (const a of o.compose.artifacts) parts.push(await artifactPart(a, scratch, o.emit));
    parts.push(...(await closingParts(o.compose)));
    const layer = [DISK_DIR, ...parts.map((p) => p.entry)];
    o.emit({ type: 'info', message: `making the image ${o.refs.join(', ')}` });
    const importing = importLayer(o.docker, tarStream(layer, { mtime: o.epoch }), `the layer of ${imageWhat(o.refs)}`);
    return await named(o, layer, parts, importing);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The image of a build that is not done yet: its artifacts go into `docker import` while the build finishes. */
export interface EarlyCarrier {
  /** The build is done: the layer's last files (the SBOM and the manifest) go in, then the image is named. */
  finish(o: CarrierInput): Promise<Carrier>;
  /** The build failed: the import is stopped, and no image or scratch file is left. */
  abort(): Promise<void>;
}

/**
 * Start the image of a build that is not done yet: once finalize has every
 * artifact under its final name (FinalizeOptions.onReady), the layer streams
 * them into `docker import` while the build hashes them, writes the SBOM and
 * the manifest and removes its container. The default template's 4 GiB raw
 * image took 2.8 s to hash, then 3.2 s to convert to qcow2 and import; now
 * the two overlap (6.9 s → 6.1 s for both on two cores). The layer is the one
 * buildCarrier makes from the same outputs, so the image id is too; a build
 * whose outputs are not `artifacts`, in that order, gets buildCarrier's.
 */
export function startCarrier(s: { docker: Promise<Docker>; epoch: number; artifacts: ReadyArtifact[]; refs: string[]; emit: Emit }): EarlyCarrier {
  const buildDir = path.dirname((s.artifacts[0] as ReadyArtifact).path);
  const scratchDir = path.join(buildDir, CARRIER_DIR);
  const scratch = freshScratch(scratchDir);
  scratch.catch(() => undefined);
  // Each artifact's part is made once: by the stream, or for the whole archive after a failed import.
  const made = new Map<number, Promise<LayerPart>>();
  const partOf = (i: number) => {
    let part = made.get(i);
    if (!part) {
      part = scratch.then((dir) => artifactPart(s.artifacts[i] as ReadyArtifact, dir, s.emit));
      made.set(i, part);
    }
    return part;
  };
  // The SBOM and the manifest, given by finish; an abort stops the stream instead.
  let close: (parts: LayerPart[]) => void = () => undefined;
  let stop: (err: Error) => void = () => undefined;
  const closing = new Promise<LayerPart[]>((resolve, reject) => {
    close = resolve;
    stop = reject;
  });
  closing.catch(() => undefined);
  async function* layer(): AsyncGenerator<Uint8Array> {
    const stamp = { mtime: s.epoch };
    yield* tarStream([DISK_DIR], stamp, { end: false });
    for (let i = 0; i < s.artifacts.length; i++) yield* tarStream([(await partOf(i)).entry], stamp, { end: false });
    yield* tarStream(
      (await closing).map((p) => p.entry),
      stamp,
    );
  }
  s.emit({ type: 'info', message: `making the image ${s.refs.join(', ')} (its layer while the build finishes)` });
  const importing = s.docker.then((docker) => importLayer(docker, layer(), `the layer of ${imageWhat(s.refs)}`));
  importing.catch(() => undefined);
  const abort = async () => {
    stop(new StepError('the build ended before its image was made'));
    // An import that ended anyway (the build failed after its last file) leaves no unnamed image behind.
    const r = await importing.catch(() => undefined);
    if (r && 'got' in r) await (await s.docker).removeImageIfUnused(r.got.id).catch(() => undefined);
    await rm(scratchDir, { recursive: true, force: true });
  };
  return {
    abort,
    async finish(o) {
      const outputs = o.compose.artifacts;
      const same =
        o.epoch === s.epoch &&
        outputs.length === s.artifacts.length &&
        s.artifacts.every((a, i) => outputs[i]?.file === a.file && outputs[i]?.path === a.path && outputs[i]?.size === a.size);
      if (!same) {
        o.emit({ type: 'debug', message: 'the artifacts given while the build ran are not its outputs: making the image from the outputs' });
        await abort();
        return buildCarrier(o);
      }
      try {
        const last = await closingParts(o.compose);
        close(last);
        // The parts the stream made (the same promises), or makes now for the whole archive should the import have failed.
        const parts = [...(await Promise.all(s.artifacts.map((_, i) => partOf(i)))), ...last];
        return await named(o, [DISK_DIR, ...parts.map((p) => p.entry)], parts, importing);
      } catch (err) {
        await abort();
        throw err;
      } finally {
        await rm(scratchDir, { recursive: true, force: true });
      }
    },
  };
}

/** `scratch`, made new and empty for the carrier. */
async function freshScratch(scratch: string): Promise<string> {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  return scratch;
}

/** The layer part of one artifact: an uncompressed raw image goes in as qcow2, made in `scratch`. */
async function artifactPart(a: LayerArtifact, scratch: string, emit: Emit): Promise<LayerPart> {
  if (a.type === 'raw' && !a.compression) {
    const name = `${path.basename(a.file, '.raw')}.qcow2`;
    emit({ type: 'info', message: `converting ${a.file} to ${name} for the image (holes skipped)` });
    const qcow2 = path.join(scratch, name);
    await run({ command: 'qemu-img', args: ['convert', '-f', 'raw', '-O', 'qcow2', a.path, qcow2] }, { package: 'qemu-utils' });
    return { entry: fileEntry(name, qcow2, (await stat(qcow2)).size), file: { name, from: a.file, converted: 'qcow2' } };
  }
  // The size it was hashed (or found ready) at: a file changed since is an error, not a different image.
  return { entry: fileEntry(a.file, a.path, a.size), file: { name: a.file, from: a.file } };
}

/** The SBOM, then the manifest without its stage timings: the layer's last files. */
async function closingParts(compose: ComposeResult): Promise<LayerPart[]> {
  const sbom = path.basename(compose.sbom.path);
  // The timings say how long this build took, not what it made, and would make every image different.
  // They stay in the manifest beside the image and in the report.
  const manifest = path.basename(compose.manifest);
  const { timings: _timings, ...made } = JSON.parse(await readFile(compose.manifest, 'utf8')) as Record<string, unknown>;
  return [
    { entry: fileEntry(sbom, compose.sbom.path, (await stat(compose.sbom.path)).size), file: { name: sbom, from: sbom } },
    {
      entry: { name: `disk/${manifest}`, type: 'file', content: Buffer.from(`${JSON.stringify(made, null, 2)}\n`) },
      file: { name: manifest, from: manifest, without: 'timings' },
    },
  ];
}

function fileEntry(name: string, file: string, size: number): TarEntry {
  return { name: `disk/${name}`, type: 'file', content: { file, size } };
}

function imageWhat(refs: readonly string[]): string {
  return `the image ${refs.join(', ')}`;
}

/** Name the image whose layer `importing` brings (or the whole archive of `layer`); the image it replaces is removed. */
async function named(o: CarrierInput, layer: TarEntry[], parts: LayerPart[], importing: Promise<Imported>): Promise<Carrier> {
  const previous = (await o.docker.imageInspect(o.refs[0] as string))?.id;
  const imageId = await loadImage(o, layer, importing);
  // The image this one replaces under the same name would be left dangling (hundreds of MB per build):
  // remove it when nothing else names or uses it.
  if (previous && previous !== imageId && (await o.docker.removeImageIfUnused(previous)))
    o.emit({ type: 'debug', message: `removed the replaced image ${previous}` });
  return { imageId, refs: o.refs, labels: o.labels, files: parts.map((p) => p.file) };
}

/** What `docker import` of a layer gave: the image and the layer digest it reports, with ours; or why not. */
type Imported = { got: { id: string; diffId: string }; diffId: string } | { layerFailure: unknown } | { failure: unknown };

/**
 * `docker import` of the layer `source` gives, hashed on its way; never
 * rejects. A failure of the layer itself (a file changed since it was hashed)
 * is told apart from the daemon's: it is the build's, and is thrown, not met a
 * second time by the whole archive.
 */
async function importLayer(docker: Docker, source: AsyncIterable<Uint8Array>, what: string): Promise<Imported> {
  const hash = createHash('sha256');
  let layerFailure: unknown;
  async function* bytes(): AsyncGenerator<Uint8Array> {
    try {
      yield* hashed(source, hash);
    } catch (err) {
      layerFailure = err;
      throw err;
    }
  }
  try {
    const got = await docker.importStream(bytes(), what);
    return { got, diffId: `sha256:${hash.digest('hex')}` };
  } catch (err) {
    return layerFailure !== undefined ? { layerFailure } : { failure: err };
  }
}

/**
 * Make the image of one layer and name it `o.refs`; returns its id, the
 * config's SHA256. The layer goes in through `docker import` (`importing`),
 * which applies it as it comes; a `docker load` of an archive with the config
 * and manifest alone then names it, for docker load takes a layer it already
 * has from the daemon instead of the archive. (A whole `docker save` archive
 * is first written to a temporary directory by docker load and read back: for
 * a 1.5 GB layer, 15 s against 9 s this way.) The imported image, unnamed, is
 * removed; its layer stays, the loaded image's. A daemon that cannot do this
 * (one that wants every layer in the archive) gets the whole archive instead.
 */
async function loadImage(o: CarrierInput, layer: TarEntry[], importing: Promise<Imported>): Promise<string> {
  const stamp = { mtime: o.epoch };
  const what = imageWhat(o.refs);
  const imported = await importing;
  if ('layerFailure' in imported) throw imported.layerFailure;
  try {
    if ('failure' in imported) throw imported.failure;
    if (imported.got.diffId !== imported.diffId)
      throw new StepError(`docker import took the layer as ${imported.got.diffId}, not the ${imported.diffId} it was given`);
    const archive = saveArchive(o, imported.diffId, stamp);
    await o.docker.loadStream(archive.stream(), what);
    return await loaded(o, archive.id);
  } catch (err) {
    o.emit({ type: 'debug', message: `the layer by docker import did not give ${what} (${(err as Error).message}); loading the whole archive` });
  } finally {
    if ('got' in imported) await o.docker.removeImageIfUnused(imported.got.id);
  }
  let id: string | undefined;
  async function* whole(): AsyncGenerator<Uint8Array> {
    const hash = createHash('sha256');
    yield* tarStream([{ name: LAYER_FILE, type: 'file', content: { stream: hashed(tarStream(layer, stamp), hash), size: tarSize(layer, stamp) } }], stamp, {
      end: false,
    });
    // The layer comes first and is hashed on its way, so its digest is known for the config that follows it
    // (docker load reads the whole archive before it reads the manifest).
    const archive = saveArchive(o, `sha256:${hash.digest('hex')}`, stamp);
    id = archive.id;
    yield* archive.stream();
  }
  await o.docker.loadStream(whole(), what);
  if (!id) throw new StepError('the image archive was not made to its end');
  return loaded(o, id);
}

/** The name of the layer in a `docker save` archive. */
const LAYER_FILE = 'layer.tar';

/** The chunks of `source`, each also given to `hash` on its way. */
async function* hashed(source: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

/** The config and manifest of the image whose one layer is `diffId`: the end of a `docker save` archive (the layer file left to the caller). */
function saveArchive(o: CarrierInput, diffId: string, stamp: { mtime: number }): { id: string; stream: () => AsyncGenerator<Uint8Array> } {
  const config = Buffer.from(JSON.stringify(imageConfig({ diffId, created: new Date(o.epoch * 1000), labels: o.labels, architecture: o.architecture })));
  const id = createHash('sha256').update(config).digest('hex');
  const manifest = Buffer.from(saveManifest(`${id}.json`, LAYER_FILE, o.refs));
  const entries: TarEntry[] = [
    { name: `${id}.json`, type: 'file', content: config },
    { name: 'manifest.json', type: 'file', content: manifest },
  ];
  return { id, stream: () => tarStream(entries, stamp) };
}

/** Check that docker names every reference the image `id`; returns `sha256:<id>`. */
async function loaded(o: CarrierInput, id: string): Promise<string> {
  for (const ref of o.refs) {
    const image = await o.docker.imageInspect(ref);
    if (image?.id !== `sha256:${id}`)
      throw new StepError(`docker load did not name ${ref} the image it was given (sha256:${id.slice(0, 12)}): it names ${image?.id ?? 'nothing'}`);
  }
  return `sha256:${id}`;
}
