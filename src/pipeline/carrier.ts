// The image `build` makes around a disk image, so registries can store and
// ship it: FROM scratch, the artifacts under /disk/ (as KubeVirt's
// containerDisk expects them), the SBOM and the manifest beside them, and
// labels that name its inputs. An uncompressed raw image goes in as qcow2:
// qemu-img skips its holes, so the layer holds the data, not 4 GiB of zeros,
// and `qemu-img convert -O raw` gives back the raw file byte for byte.
import { copyFile, link, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ComposeResult } from '../compose/compose.js';
import type { Docker } from '../docker/docker.js';
import { run } from '../exec.js';
import type { Emit } from '../log/events.js';

export interface CarrierInput {
  docker: Docker;
  compose: ComposeResult;
  /** Every reference the image gets (one per tag). */
  refs: string[];
  labels: Record<string, string>;
  emit: Emit;
}

export interface Carrier {
  imageId: string;
  refs: string[];
  labels: Record<string, string>;
  /** Files under /disk/ and what each was made from. */
  files: { name: string; from: string; converted?: 'qcow2' }[];
}

/** Where the carrier's build context is made, inside the image build directory. */
export const CARRIER_DIR = '.carrier';

async function place(from: string, to: string): Promise<void> {
  // A hard link costs nothing; another filesystem (or a refusing one) gets a copy.
  await link(from, to).catch(() => copyFile(from, to));
}

/** The Dockerfile of the carrier: nothing but the files. */
export const CARRIER_DOCKERFILE = 'FROM scratch\nCOPY disk/ /disk/\n';

/** Build the carrier image from a finished compose; returns its id. */
export async function buildCarrier(o: CarrierInput): Promise<Carrier> {
  const context = path.join(o.compose.buildDir, CARRIER_DIR);
  await rm(context, { recursive: true, force: true });
  const disk = path.join(context, 'disk');
  await mkdir(disk, { recursive: true });
  const files: Carrier['files'] = [];
  try {
    for (const a of o.compose.artifacts) {
      if (a.type === 'raw' && !a.compression) {
        const name = `${path.basename(a.file, '.raw')}.qcow2`;
        o.emit({ type: 'info', message: `converting ${a.file} to ${name} for the image (holes skipped)` });
        await run({ command: 'qemu-img', args: ['convert', '-f', 'raw', '-O', 'qcow2', a.path, path.join(disk, name)] }, { package: 'qemu-utils' });
        files.push({ name, from: a.file, converted: 'qcow2' });
      } else {
        await place(a.path, path.join(disk, a.file));
        files.push({ name: a.file, from: a.file });
      }
    }
    for (const extra of [o.compose.sbom.path, o.compose.manifest]) {
      const name = path.basename(extra);
      await place(extra, path.join(disk, name));
      files.push({ name, from: name });
    }
    await writeFile(path.join(context, 'Dockerfile'), CARRIER_DOCKERFILE);
    o.emit({ type: 'info', message: `building the image ${o.refs.join(', ')}` });
    const previous = (await o.docker.imageInspect(o.refs[0] as string))?.id;
    const { imageId } = await o.docker.build({
      context,
      tags: o.refs,
      buildArgs: {},
      labels: o.labels,
      onLine: (line) => o.emit({ type: 'debug', message: `docker build: ${line}` }),
    });
    // The image this one replaces under the same name would be left dangling (hundreds of MB per build):
    // remove it when nothing else names or uses it.
    if (previous && previous !== imageId && (await o.docker.removeImageIfUnused(previous))) o.emit({ type: 'debug', message: `removed the replaced image ${previous}` });
    return { imageId, refs: o.refs, labels: o.labels, files };
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
