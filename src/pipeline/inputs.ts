// The inputs digest: one SHA256 over everything that decides what a build
// produces. pre_build compares it with the label of the last image built or
// pushed; equal digests mean a build would make the same image again.
import { createHash } from 'node:crypto';
import { hashFile } from '../fs/hash.js';
import type { LockFile } from '../lock/types.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { contextDockerfile } from '../compose/images/composer-image.js';
import { UserError } from '../errors.js';
import type { ImageTemplate } from '../template/types.js';
import { readAdditionalFile } from '../template/local-files.js';

/** The label that carries the digest on every image `build` makes. */
export const INPUTS_LABEL = 'org.g3-composer.inputs-digest';

/** One input and its SHA256, listed in reports so a changed digest can be explained. */
export interface InputPart {
  name: string;
  sha256: string;
}

export interface Inputs {
  /** `sha256:<hex>` over every part, in order. */
  digest: string;
  parts: InputPart[];
}

export interface InputsSource {
  lockFile: string;
  /** The template merged over its default, after variable substitution (what the build reads). */
  template: ImageTemplate;
  templateFile: string;
  /** The build context (docker/): its Dockerfile and .dockerignore reach the composer image. */
  context: string;
  /** DOCKERFILE_PATH: the composer Dockerfile relative to the context (default Dockerfile). */
  dockerfile?: string;
  /** Build arguments given explicitly (SOURCE_DATE_EPOCH when set in the environment). */
  buildArgs: Record<string, string>;
  toolkitVersion: string;
  /** An ISO's initramfs target (systemConfig.initramfs): its lock, template and files decide the ISO too. */
  initramfs?: Pick<InputsSource, 'lockFile' | 'template' | 'templateFile'>;
}

const sha = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** JSON with sorted keys, so equal templates hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

async function fileSha(file: string, what: string, optional = false): Promise<string | undefined> {
  const bytes = await fileBytes(file, what, optional);
  return bytes === undefined ? undefined : sha(bytes);
}

async function fileBytes(file: string, what: string, optional = false): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${what} ${file}: ${(err as Error).message}`, 'Run `<builder> <target> lock` first when the lock is missing.');
  }
}

/** Work out the inputs digest and its parts. */
export async function inputsDigest(src: InputsSource): Promise<Inputs> {
  const parts: InputPart[] = [];
  const add = (name: string, hex: string | undefined) => {
    if (hex !== undefined) parts.push({ name, sha256: hex });
  };
  const lockBytes = (await fileBytes(src.lockFile, 'the lock file')) as Buffer;
  add('lock', sha(lockBytes));
  await addTemplate(add, '', src);
  // An overlay is made from its baseline file: its bytes now (the lock pins those it was made for; a build refuses others).
  const baseline = lockBaseline(lockBytes);
  if (baseline && typeof baseline.source === 'object' && baseline.source !== null && 'path' in baseline.source)
    add('baseline', (await hashFile(baseline.source.path).catch(() => undefined))?.sha256);
  if (src.initramfs) {
    // Its lock is written by its first build: until then the part is absent, so the digest differs from any built one.
    add('initramfs lock', await fileSha(src.initramfs.lockFile, 'the lock file', true));
    await addTemplate(add, 'initramfs ', src.initramfs);
  }
  add('Dockerfile', await fileSha(contextDockerfile(src.context, src.dockerfile), 'the Dockerfile'));
  add('.dockerignore', await fileSha(path.join(src.context, '.dockerignore'), '.dockerignore', true));
  add('build arguments', sha(canonicalJson(src.buildArgs)));
  add('toolkit version', sha(src.toolkitVersion));
  const digest = createHash('sha256');
  for (const p of parts) digest.update(`${p.name}\0${p.sha256}\n`);
  return { digest: `sha256:${digest.digest('hex')}`, parts };
}

/** The baseline a lock names, read from the bytes already hashed; none when the lock has none or is not JSON. */
function lockBaseline(bytes: Buffer): LockFile['baseline'] {
  try {
    return (JSON.parse(bytes.toString('utf8')) as Partial<LockFile>).baseline;
  } catch {
    return undefined;
  }
}

/** The template and the files it copies into the image, by content (a changed motd rebuilds). */
async function addTemplate(
  add: (name: string, hex: string | undefined) => void,
  prefix: string,
  src: Pick<InputsSource, 'template' | 'templateFile'>,
): Promise<void> {
  add(`${prefix}template`, sha(canonicalJson(src.template)));
  const dir = path.dirname(src.templateFile);
  for (const [i, f] of (src.template.systemConfig?.additionalFiles ?? []).entries()) {
    // The same checked, no-follow read as the build's: the file the image gets is the file hashed here.
    if (f.local) add(`${prefix}additionalFiles[${i}] ${f.local}`, sha((await readAdditionalFile(f, dir, `systemConfig.additionalFiles[${i}].local`)).bytes));
  }
}

/** The build arguments that reach the image and come from the user: SOURCE_DATE_EPOCH only when it is set. */
export function explicitBuildArgs(env: Record<string, string | undefined>): Record<string, string> {
  const epoch = env.SOURCE_DATE_EPOCH?.trim();
  return epoch ? { SOURCE_DATE_EPOCH: epoch } : {};
}
