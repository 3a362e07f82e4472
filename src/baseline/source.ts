// The baseline image of an overlay build (baseline.source): where the file is,
// that it is the format the template says and refers to no other file, and its
// SHA256, which the lock pins and every build checks again.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { probeImage } from '../diskimage/refs.js';
import { UserError } from '../errors.js';
import { hashFile } from '../fs/hash.js';
import { escapeInline } from '../text/untrusted.js';
import type { BaselineFormat } from '../template/overlay/spec.js';

// qemu-img's driver name for each template format.
const DRIVER: Readonly<Record<BaselineFormat, string>> = { raw: 'raw', qcow2: 'qcow2', vhd: 'vpc', vhdx: 'vhdx' };

/** The qemu-img driver of a template format (`vhd` is qemu's `vpc`). */
export function qemuDriver(format: BaselineFormat): string {
  return DRIVER[format];
}

/** baseline.source.path as a file: relative to the folder of the template that names it, else absolute. */
export function baselinePath(p: string, templateDir: string): string {
  return path.resolve(templateDir, p);
}

/** Check the baseline file: a regular file, of the declared format, naming no other file. */
export async function checkBaselineFile(file: string, format: BaselineFormat): Promise<{ size: number }> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT')
      throw new UserError(
        `the baseline image ${escapeInline(file)} does not exist`,
        'Build it first (for latest-overlay: ./builder.sh latest build), or fix baseline.source.path.',
      );
    throw new UserError(`cannot read the baseline image ${escapeInline(file)}: ${err.code ?? err.message}`);
  });
  if (!st.isFile()) throw new UserError(`the baseline image ${escapeInline(file)} is not a regular file`);
  const probe = await probeImage(file);
  // A qcow2's backing file or a VMDK's extents would make qemu-img read other files than the one named.
  if (probe.refs.length > 0)
    throw new UserError(
      `the baseline image ${escapeInline(file)} refers to other files (${probe.refs.map((r) => escapeInline(r)).join(', ')})`,
      'Give a self-contained image: qemu-img convert it to raw or to a qcow2 without a backing file.',
    );
  if (probe.format !== DRIVER[format])
    throw new UserError(
      `baseline.source.format is ${format}, but ${escapeInline(file)} is a ${probe.format === 'vpc' ? 'vhd' : probe.format} image`,
      `Set baseline.source.format: ${probe.format === 'vpc' ? 'vhd' : probe.format}.`,
    );
  return { size: st.size };
}

/** The baseline file's SHA256 and size (a raw image is read hole by hole). */
export async function baselineDigest(file: string): Promise<{ sha256: string; size: number }> {
  return hashFile(file);
}
