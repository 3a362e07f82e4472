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
 * `docker load` the image of one layer: the `docker save` archive is made as
 * it goes in, never written. The layer comes first and is hashed on its way,
 * so its digest is known for the config that follows it, then the config and
 * `manifest.json` (docker load reads the whole archive before it reads the
 * manifest). Returns the image id, the config's SHA256.
 */
async function loadImage(o: CarrierInput, layer: TarEntry[]): Promise<string> {
  const stamp = { mtime: o.epoch };
  let id: string | undefined;
  async function* archive(): AsyncGenerator<Uint8Array> {
    const hash = createHash('sha256');
    async function* hashed(): AsyncGenerator<Uint8Array> {
      for await (const chunk of tarStream(layer, stamp)) {
        hash.update(chunk);
        yield chunk;
      }
    }
    yield* tarStream([{ name: 'layer.tar', type: 'file', content: { stream: hashed(), size: tarSize(layer, stamp) } }], stamp, { end: false });
    const diffId = `sha256:${hash.digest('hex')}`;
    const config = Buffer.from(JSON.stringify(imageConfig({ diffId, created: new Date(o.epoch * 1000), labels: o.labels, architecture: o.architecture })));
    id = createHash('sha256').update(config).digest('hex');
    const manifest = Buffer.from(saveManifest(`${id}.json`, 'layer.tar', o.refs));
    yield* tarStream(
      [
        { name: `${id}.json`, type: 'file', content: config },
        { name: 'manifest.json', type: 'file', content: manifest },
      ],
      stamp,
    );
  }
  await o.docker.loadStream(archive(), `the image ${o.refs.join(', ')}`);
  if (!id) throw new StepError('the image archive was not made to its end');
  for (const ref of o.refs) {
    const loaded = await o.docker.imageInspect(ref);
    if (loaded?.id !== `sha256:${id}`)
      throw new StepError(`docker load did not name ${ref} the image it was given (sha256:${id.slice(0, 12)}): it names ${loaded?.id ?? 'nothing'}`);
  }
  return `sha256:${id}`;
}
