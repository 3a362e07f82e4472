// `inspect <image>`: describe a built image file without mounting or changing it.
import path from 'node:path';
import { inspectImage, renderReport } from '../../inspect/image.js';
import { ExitCode } from '../../errors.js';
import { defineCommand } from '../command.js';

const PROVIDER = 'debian-debian13-x86_64';

/** `inspect`: needs settings only for temp_dir, where a temporary raw copy goes; keeps no run log. */
export const inspectCommand = defineCommand({
  name: 'inspect',
  summary: 'describe a built image file (partitions, filesystems, OS, packages, SBOM; initrd archives and ISOs too)',
  targetless: true,
  usage: 'inspect <image> [--json]',
  positionals: [{ name: 'image', missing: 'inspect needs an image file' }],
  runLog: false,
  description: `Describes any output of build without mounting or changing it: format and
compression, SHA256, partitions, filesystems, OS release, installed package
count, the SBOM inside and the bootloader. An initrd image (a cpio initramfs,
imageType img) is read from the archive: member count, what /init runs, OS,
packages and SBOM. An ISO (imageType iso) is read in place too: volume id and
size, its El Torito boot entries (BIOS, UEFI) and system area (hybrid MBR,
GPT), through xorriso -indev. A compressed or non-raw file is
unpacked to a temporary raw copy in temp_dir (G3_TEMP_DIR) first. A file that
is not an image, or an image that refers to other files (VMDK extents or
parent, qcow2 backing or data file), exits 2; no referred file is opened.`,
  examples: (prog) => [`${prog} inspect workspace/${PROVIDER}/imagebuild/minimal/minimal-1.0.raw`, `${prog} inspect out/minimal-1.0.qcow2.zst --json`],
  run: ({ settings, args, cwd, emit }) => inspectImage(path.resolve(cwd, args[0] ?? ''), { emit, tempDir: settings.tempDir }),
  render: (report, { out }) => {
    if (out.mode === 'json') out.result(JSON.stringify({ command: 'inspect', ...report }, null, 2));
    else out.result(renderReport(report).replace(/\n$/, ''));
    return ExitCode.ok;
  },
});
