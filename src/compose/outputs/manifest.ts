// The build manifest beside the image: what went in (template and lock
// digests, provider, toolkit version, SOURCE_DATE_EPOCH) and what came out
// (each output's size and SHA256), with the stage timings. Written last, so a
// manifest only exists for a build that finished.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../fs/atomic.js';
import { hashFile } from '../../fs/hash.js';
import type { LockFile } from '../../lock/types.js';

export interface ManifestOutput {
  file: string;
  kind: 'image' | 'sbom';
  type?: string;
  compression?: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  manifestVersion: 1;
  image: { name: string; version: string };
  providerId: string;
  toolkit: { name: 'g3-composer'; version: string };
  sourceDateEpoch: number;
  inputs: {
    template: { file: string; sha256: string };
    lock: { sha256: string; requestDigest: string; packages: number };
    /**
     * An overlay's baseline image: its file name, format, size and SHA256 (as the lock pins them), the packages its
     * dpkg database lists, and those the overlay removed (conflictPolicy allow-explicit).
     */
    baseline?: {
      file: string;
      format: string;
      size: number;
      sha256: string;
      packages: Array<{ name: string; version: string; architecture: string }>;
      removed?: string[];
    };
  };
  outputs: ManifestOutput[];
  timings: Record<string, number>;
}

/** SHA-256 of the lock as the build used it (its JSON, keys as written). */
export function lockDigest(lock: LockFile): string {
  return createHash('sha256').update(JSON.stringify(lock)).digest('hex');
}

export interface ManifestInput {
  buildDir: string;
  stem: string;
  image: { name: string; version: string };
  providerId: string;
  toolkitVersion: string;
  sourceDateEpoch: number;
  templateFile: string;
  lock: LockFile;
  outputs: ManifestOutput[];
  timings: Record<string, number>;
}

function baselineInput(b: NonNullable<LockFile['baseline']>): NonNullable<Manifest['inputs']['baseline']> {
  const name = 'path' in b.source ? path.basename(b.source.path) : (new URL(b.source.url).pathname.split('/').at(-1) ?? '');
  return {
    file: name,
    format: b.format,
    size: b.size,
    sha256: b.sha256,
    packages: b.packages.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture })),
    ...(b.removed?.length ? { removed: b.removed.map((r) => r.name) } : {}),
  };
}

/** Write `<stem>.manifest.json` in the build directory; returns its path and content. */
export async function writeManifest(o: ManifestInput): Promise<{ path: string; manifest: Manifest }> {
  const template = await hashFile(o.templateFile);
  const manifest: Manifest = {
    manifestVersion: 1,
    image: o.image,
    providerId: o.providerId,
    toolkit: { name: 'g3-composer', version: o.toolkitVersion },
    sourceDateEpoch: o.sourceDateEpoch,
    inputs: {
      template: { file: path.basename(o.templateFile), sha256: template.sha256 },
      lock: { sha256: lockDigest(o.lock), requestDigest: o.lock.requestDigest, packages: o.lock.image.packages.length },
      ...(o.lock.baseline ? { baseline: baselineInput(o.lock.baseline) } : {}),
    },
    outputs: o.outputs,
    timings: o.timings,
  };
  const file = path.join(o.buildDir, `${o.stem}.manifest.json`);
  await writeFileAtomic(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return { path: file, manifest };
}

/** An output file of the build, hashed for the manifest. */
export async function manifestOutput(file: string, kind: ManifestOutput['kind'], extra: { type?: string; compression?: string } = {}): Promise<ManifestOutput> {
  const d = await hashFile(file);
  return { file: path.basename(file), kind, ...extra, size: d.size, sha256: d.sha256 };
}

/** The toolkit's version, from its package.json. */
export async function toolkitVersion(projectRoot: string): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}
