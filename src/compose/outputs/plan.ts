// What the finalize stage makes from the raw disk image: the template's
// `disk.artifacts` checked, turned into file names, and the exact command line
// for every conversion and compression. Pure, so validation and tests need no tools.
import path from 'node:path';
import { UserError } from '../../errors.js';
import type { DiskTemplate, ImageTemplate } from '../../template/types.js';

/** How one disk format is written, and whether two runs give the same bytes. */
export interface FormatSpec {
  ext: string;
  /** qemu-img's name for the format; absent for raw, which needs no conversion. */
  qemu?: string;
  /** `qemu-img convert -o` options. */
  options?: string;
  reproducible: boolean;
  /** Why the format is (not) bit-reproducible, for the documentation. */
  note: string;
}

// Options chosen for what consumers of each format accept:
// - vhd is written fixed with force_size: Azure only takes fixed VHDs whose size is the
//   disk's exact size, and without force_size qemu rounds the size to a CHS geometry.
//   A fixed VHD is the raw bytes plus a 512-byte footer, so compressing it costs little.
// - vmdk is streamOptimized, the subformat VMware OVAs and cloud image imports expect.
// - vhdx is dynamic (Hyper-V's default); qcow2 keeps qemu's defaults (compat 1.1, 64 KiB clusters).
export const FORMATS: Readonly<Record<string, FormatSpec>> = {
  raw: { ext: 'raw', reproducible: true, note: 'the image itself' },
  qcow2: { ext: 'qcow2', qemu: 'qcow2', reproducible: true, note: 'no timestamps or random identifiers; qemu-img writes clusters in order' },
  vhd: {
    ext: 'vhd',
    qemu: 'vpc',
    options: 'subformat=fixed,force_size=on',
    reproducible: false,
    note: 'the footer holds the creation time and a random UUID (and their checksum); qemu-img cannot set them',
  },
  vhdx: {
    ext: 'vhdx',
    qemu: 'vhdx',
    options: 'subformat=dynamic',
    reproducible: false,
    note: 'the headers hold random file, data and log GUIDs; qemu-img cannot set them',
  },
  vmdk: {
    ext: 'vmdk',
    qemu: 'vmdk',
    options: 'subformat=streamOptimized',
    reproducible: false,
    note: 'the descriptor holds a random content ID (CID); qemu-img cannot set it',
  },
};

/** How one compression is run; every one is deterministic with these options. */
export interface CompressionSpec {
  suffix: string;
  note: string;
}

export const COMPRESSIONS: Readonly<Record<string, CompressionSpec>> = {
  gz: { suffix: 'gz', note: 'gzip -6 -n: no file name or time in the header' },
  // xz's multi-threaded encoder gives the same bytes for any thread count (blocks are
  // cut by size, not by thread); only the single-threaded encoder differs. -T0 uses it
  // even on one core (xz >= 5.4) and --no-adjust stops a memory limit from switching modes.
  xz: { suffix: 'xz', note: 'xz -6 -T0 --no-adjust: multi-threaded mode, whose output does not depend on the thread count' },
  // Likewise zstd's worker mode (any -T, default 1) gives the same bytes for any worker count.
  zstd: { suffix: 'zst', note: 'zstd -10 -T0: worker mode, whose output does not depend on the number of workers' },
};

export interface PlannedArtifact {
  type: string;
  compression?: string;
  /** File name in the build directory. */
  file: string;
}

const DEFAULT_ARTIFACTS: NonNullable<DiskTemplate['artifacts']> = [{ type: 'raw' }];
const typeList = Object.keys(FORMATS).join(', ');
const compressionList = Object.keys(COMPRESSIONS).join(', ');

/** Everything wrong with `disk.artifacts`, each message naming its field; empty when the list is usable. */
export function artifactProblems(artifacts: DiskTemplate['artifacts']): string[] {
  if (artifacts === undefined) return [];
  if (!Array.isArray(artifacts)) return ['disk.artifacts: must be a list such as [{type: raw}]'];
  if (artifacts.length === 0)
    return [`disk.artifacts: the list is empty; list at least one artifact (type one of ${typeList}), or leave the key out for a raw image`];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  artifacts.forEach((a, i) => {
    const at = `disk.artifacts[${i}]`;
    if (a === null || typeof a !== 'object') {
      problems.push(`${at}: must be a mapping such as {type: qcow2, compression: xz}`);
      return;
    }
    let ok = true;
    if (a.type === undefined) {
      problems.push(`${at}.type: is required, one of ${typeList}`);
      ok = false;
    } else if (!Object.hasOwn(FORMATS, a.type)) {
      problems.push(`${at}.type: ${JSON.stringify(a.type)} is not one of ${typeList}`);
      ok = false;
    }
    if (a.compression !== undefined && !Object.hasOwn(COMPRESSIONS, a.compression)) {
      problems.push(`${at}.compression: ${JSON.stringify(a.compression)} is not one of ${compressionList} (leave it out for none)`);
      ok = false;
    }
    if (!ok) return;
    const key = `${a.type}\0${a.compression ?? ''}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      problems.push(
        `${at}: ${a.type}${a.compression ? ` with ${a.compression}` : ' without compression'} is already listed as disk.artifacts[${first}]; remove one`,
      );
  });
  return problems;
}

/** `<image.name>-<image.version>`, the stem of every file the build writes (defaults as the raw image's). */
export function imageStem(template: ImageTemplate): string {
  return `${template.image?.name ?? 'image'}-${template.image?.version ?? '0'}`;
}

/** The artifacts the template asks for, in template order, with their file names. */
export function artifactPlan(template: ImageTemplate): PlannedArtifact[] {
  const artifacts = template.disk?.artifacts;
  const problems = artifactProblems(artifacts);
  if (problems.length > 0)
    throw new UserError(
      `invalid disk artifacts:\n  ${problems.join('\n  ')}`,
      `Fix disk.artifacts in the template: type is one of ${typeList}, compression one of ${compressionList}.`,
    );
  const stem = imageStem(template);
  return (artifacts ?? DEFAULT_ARTIFACTS).map((a) => {
    const type = a.type as string;
    const spec = FORMATS[type] as FormatSpec;
    const file = `${stem}.${spec.ext}${a.compression ? `.${(COMPRESSIONS[a.compression] as CompressionSpec).suffix}` : ''}`;
    return a.compression ? { type, compression: a.compression, file } : { type, file };
  });
}

/** Whether the plan keeps the uncompressed raw image; when not, finalize removes it. */
export function keepsRaw(plan: readonly PlannedArtifact[]): boolean {
  return plan.some((a) => a.type === 'raw' && !a.compression);
}

/** The qemu-img command that writes `dest` in format `type` from the raw image `raw`. */
export function convertCommand(type: string, raw: string, dest: string): string[] {
  const spec = FORMATS[type];
  if (!spec?.qemu) throw new Error(`no conversion for artifact type ${type}`);
  // -f raw: never let qemu-img probe the image, whose first sector the guest controls.
  return ['qemu-img', 'convert', '-f', 'raw', '-O', spec.qemu, ...(spec.options ? ['-o', spec.options] : []), raw, dest];
}

/** The command that compresses `src` into `src` + `.<suffix>` beside it, keeping `src`. */
export function compressCommand(compression: string, src: string): string[] {
  switch (compression) {
    case 'gz':
      return ['gzip', '-6', '-n', '-k', '-f', '-q', '--', src];
    case 'xz':
      return ['xz', '-6', '--threads=0', '--no-adjust', '--check=crc64', '-k', '-f', '-q', '--', src];
    case 'zstd':
      return ['zstd', '-10', '-T0', '-k', '-f', '-q', '--no-progress', '-o', `${src}.zst`, '--', src];
    default:
      throw new Error(`unknown compression ${compression}`);
  }
}

// xz reads options from XZ_DEFAULTS and XZ_OPT before its command line, so a
// `--block-size` left there would change the bytes; they are emptied. gzip's GZIP
// and zstd's ZSTD_CLEVEL / ZSTD_NBTHREADS are overridden by the explicit options.
/** Environment for the compressors. */
export const COMPRESS_ENV: Readonly<Record<string, string>> = { XZ_DEFAULTS: '', XZ_OPT: '' };

/** The scratch directory, in the build directory so the final rename stays on one filesystem. */
export function workDirFor(buildDir: string, template: ImageTemplate): string {
  return path.join(buildDir, `.${imageStem(template)}.finalize`);
}
