// What the finalize stage makes from the raw disk image: the template's
// `disk.artifacts` checked, turned into file names, and the exact command line
// for every conversion and compression. Pure, so validation and tests need no tools.
import path from 'node:path';
import { UserError } from '../../errors.js';
import { artifactProblems, COMPRESSIONS, type CompressionSpec, FORMATS, type FormatSpec } from '../../template/artifacts.js';
import type { DiskTemplate, ImageTemplate } from '../../template/types.js';

export interface PlannedArtifact {
  type: string;
  compression?: string;
  /** File name in the build directory. */
  file: string;
}

const DEFAULT_ARTIFACTS: NonNullable<DiskTemplate['artifacts']> = [{ type: 'raw' }];

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
      `Fix disk.artifacts in the template: type is one of ${Object.keys(FORMATS).join(', ')}, compression one of ${Object.keys(COMPRESSIONS).join(', ')}.`,
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

/**
 * The command that compresses `src` into `src` + `.<suffix>` beside it, keeping
 * `src`, on every core (xz and zstd do that themselves). gz is not made by a
 * command: gzip.ts writes it, holes skipped, on every core.
 */
export function compressCommand(compression: string, src: string): string[] {
  switch (compression) {
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
