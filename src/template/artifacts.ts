// The artifact formats and compressions a template's `disk.artifacts` may name,
// and the check `validate` makes of that list. The finalize stage
// (compose/outputs/) turns a checked list into files and commands.
import type { DiskTemplate } from './types.js';

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
