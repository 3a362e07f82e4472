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
import { copyFile, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ComposeResult } from '../compose/compose.js';
import type { Docker } from '../docker/docker.js';
import { StepError } from '../errors.js';
import { type Command, commandFailed, run, runStreaming } from '../exec.js';
import { openNoFollow } from '../fs/safe.js';
import { imageConfig, reproducibleTarArgs, saveManifest } from './image-archive.js';
import type { Emit } from '../log/events.js';

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

/** Where the carrier's build context is made, inside the image build directory. */
export const CARRIER_DIR = '.carrier';

async function place(from: string, to: string): Promise<void> {
  // A hard link costs nothing; another filesystem (or a refusing one) gets a copy.
  await link(from, to).catch(() => copyFile(from, to));
}

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
    const sbom = path.basename(o.compose.sbom.path);
    await place(o.compose.sbom.path, path.join(disk, sbom));
    files.push({ name: sbom, from: sbom });
    // The manifest without its stage timings: they say how long this build took, not what it made, and
    // would make every image different. The timings stay in the manifest beside the image and in the report.
    const manifest = path.basename(o.compose.manifest);
    const { timings: _timings, ...made } = JSON.parse(await readFile(o.compose.manifest, 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(disk, manifest), `${JSON.stringify(made, null, 2)}\n`);
    files.push({ name: manifest, from: manifest, without: 'timings' });
    o.emit({ type: 'info', message: `making the image ${o.refs.join(', ')}` });
    const previous = (await o.docker.imageInspect(o.refs[0] as string))?.id;
    const imageId = await loadImage(o, context);
    // The image this one replaces under the same name would be left dangling (hundreds of MB per build):
    // remove it when nothing else names or uses it.
    if (previous && previous !== imageId && (await o.docker.removeImageIfUnused(previous)))
      o.emit({ type: 'debug', message: `removed the replaced image ${previous}` });
    return { imageId, refs: o.refs, labels: o.labels, files };
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

/** What `cmd` writes to its stdout, into the new file `dest` (never through a link); returns its SHA256. */
async function writeHashed(cmd: Command, dest: string): Promise<string> {
  const fh = await openNoFollow(dest, 'wx');
  const hash = createHash('sha256');
  const child = runStreaming(cmd, { package: 'tar' });
  try {
    for await (const chunk of child.stdout) {
      hash.update(chunk);
      await fh.write(chunk);
    }
  } catch (err) {
    child.stop();
    throw err;
  } finally {
    await fh.close();
  }
  const r = await child.done;
  if (r.exitCode !== 0) throw commandFailed(cmd, r.exitCode, r.stderr);
  return hash.digest('hex');
}

/** Pack `<context>/disk` as the one layer, write the config and archive, `docker load` it; returns the image id. */
async function loadImage(o: CarrierInput, context: string): Promise<string> {
  const archiveDir = path.join(context, 'archive');
  await mkdir(archiveDir);
  const layer = path.join(archiveDir, 'layer.tar');
  // The layer is hashed as tar writes it, instead of being read again afterwards.
  const diffId = `sha256:${await writeHashed({ command: 'tar', args: [...reproducibleTarArgs(o.epoch), '-C', context, '-cf', '-', 'disk'] }, layer)}`;
  const config = JSON.stringify(imageConfig({ diffId, created: new Date(o.epoch * 1000), labels: o.labels, architecture: o.architecture }));
  const id = createHash('sha256').update(config).digest('hex');
  await writeFile(path.join(archiveDir, `${id}.json`), config);
  await writeFile(path.join(archiveDir, 'manifest.json'), saveManifest(`${id}.json`, 'layer.tar', o.refs));
  // The archive goes straight into docker load: never written, so the layer's bytes are not copied once more on disk.
  await o.docker.loadFrom(
    { command: 'tar', args: [...reproducibleTarArgs(o.epoch), '-C', archiveDir, '-cf', '-', 'manifest.json', `${id}.json`, 'layer.tar'] },
    'tar',
  );
  for (const ref of o.refs) {
    const loaded = await o.docker.imageInspect(ref);
    if (loaded?.id !== `sha256:${id}`)
      throw new StepError(`docker load did not name ${ref} the image it was given (sha256:${id.slice(0, 12)}): it names ${loaded?.id ?? 'nothing'}`);
  }
  return `sha256:${id}`;
}
