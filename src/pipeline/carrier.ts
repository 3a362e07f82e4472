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
import type { Docker } from '../docker/docker.js';
import { StepError } from '../errors.js';
import { run } from '../exec.js';
import { imageConfig, saveManifest } from './image-archive.js';
import type { Emit } from '../log/events.js';
import { type TarEntry, tarSize, tarStream } from './tar.js';
import { byCodeUnit } from '../text/order.js';

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

/** Build the carrier image from a finished compose; returns its id. */
export async function buildCarrier(o: CarrierInput): Promise<Carrier> {
  const scratch = path.join(o.compose.buildDir, CARRIER_DIR);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const files: Carrier['files'] = [];
  const layer: TarEntry[] = [{ name: 'disk', type: 'dir' }];
  const add = async (name: string, file: string, size?: number) =>
    layer.push({ name: `disk/${name}`, type: 'file', content: { file, size: size ?? (await stat(file)).size } });
  try {
    for (const a of o.compose.artifacts) {
      if (a.type === 'raw' && !a.compression) {
        const name = `${path.basename(a.file, '.raw')}.qcow2`;
        o.emit({ type: 'info', message: `converting ${a.file} to ${name} for the image (holes skipped)` });
        const qcow2 = path.join(scratch, name);
        await run({ command: 'qemu-img', args: ['convert', '-f', 'raw', '-O', 'qcow2', a.path, qcow2] }, { package: 'qemu-utils' });
        await add(name, qcow2);
        files.push({ name, from: a.file, converted: 'qcow2' });
      } else {
        // The size it was hashed at: a file changed since is an error, not a different image.
        await add(a.file, a.path, a.size);
        files.push({ name: a.file, from: a.file });
      }
    }
    const sbom = path.basename(o.compose.sbom.path);
    await add(sbom, o.compose.sbom.path);
    files.push({ name: sbom, from: sbom });
    // The manifest without its stage timings: they say how long this build took, not what it made, and
    // would make every image different. The timings stay in the manifest beside the image and in the report.
    const manifest = path.basename(o.compose.manifest);
    const { timings: _timings, ...made } = JSON.parse(await readFile(o.compose.manifest, 'utf8')) as Record<string, unknown>;
    layer.push({ name: `disk/${manifest}`, type: 'file', content: Buffer.from(`${JSON.stringify(made, null, 2)}\n`) });
    files.push({ name: manifest, from: manifest, without: 'timings' });
    // In name order, as `tar --sort=name` would have them.
    layer.sort((x, y) => byCodeUnit(x.name, y.name));
    o.emit({ type: 'info', message: `making the image ${o.refs.join(', ')}` });
    const previous = (await o.docker.imageInspect(o.refs[0] as string))?.id;
    const imageId = await loadImage(o, layer);
    // The image this one replaces under the same name would be left dangling (hundreds of MB per build):
    // remove it when nothing else names or uses it.
    if (previous && previous !== imageId && (await o.docker.removeImageIfUnused(previous)))
      o.emit({ type: 'debug', message: `removed the replaced image ${previous}` });
    return { imageId, refs: o.refs, labels: o.labels, files };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Make the image of one layer and name it `o.refs`; returns its id, the
 * config's SHA256. The layer goes in through `docker import`, which applies
 * it as it comes; a `docker load` of an archive with the config and manifest
 * alone then names it, for docker load takes a layer it already has from the
 * daemon instead of the archive. (A whole `docker save` archive is first
 * written to a temporary directory by docker load and read back: for a
 * 1.5 GB layer, 15 s against 9 s this way.) The imported image, unnamed, is
 * removed; its layer stays, the loaded image's. A daemon that cannot do this
 * (one that wants every layer in the archive) gets the whole archive instead.
 */
async function loadImage(o: CarrierInput, layer: TarEntry[]): Promise<string> {
  const stamp = { mtime: o.epoch };
  const what = `the image ${o.refs.join(', ')}`;
  let imported: string | undefined;
  // A failure of the layer itself (a file changed since it was hashed) is the build's, not the daemon's: thrown,
  // not met a second time by the whole archive.
  let layerFailure: unknown;
  async function* layerBytes(hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
    try {
      yield* hashed(tarStream(layer, stamp), hash);
    } catch (err) {
      layerFailure = err;
      throw err;
    }
  }
  try {
    const hash = createHash('sha256');
    const got = await o.docker.importStream(layerBytes(hash), `the layer of ${what}`);
    imported = got.id;
    const diffId = `sha256:${hash.digest('hex')}`;
    if (got.diffId !== diffId) throw new StepError(`docker import took the layer as ${got.diffId}, not the ${diffId} it was given`);
    const archive = saveArchive(o, diffId, stamp);
    await o.docker.loadStream(archive.stream(), what);
    return await loaded(o, archive.id);
  } catch (err) {
    if (layerFailure !== undefined) throw layerFailure;
    o.emit({ type: 'debug', message: `the layer by docker import did not give ${what} (${(err as Error).message}); loading the whole archive` });
  } finally {
    if (imported) await o.docker.removeImageIfUnused(imported);
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
