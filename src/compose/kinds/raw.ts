// imageType raw: the EFI bootloader into the ESP directory, the partitioned
// disk image assembled without loop devices, then the template's
// disk.artifacts (qcow2, vhd, ... compressed or not) made from it.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../errors.js';
import type { ImageTemplate } from '../../template/types.js';
import { installBootloader } from '../boot/boot.js';
import { fstab } from '../configure/fstab.js';
import { assembleDisk } from '../disk/disk.js';
import { type DiskPlan, planDisk } from '../disk/plan.js';
import { finalizeArtifacts } from '../outputs/finalize.js';
import { imageStem } from '../outputs/plan.js';
import type { OutputContext, OutputKind, OutputResult } from './types.js';

/** The raw image's file name: `<image.name>-<image.version>.raw`. */
export function rawImageName(template: ImageTemplate): string {
  return safeOutputName(`${imageStem(template)}.raw`);
}

/** An output file name made from template values, refused when it could leave the build directory or hide. */
export function safeOutputName(name: string): string {
  if (name.includes('/') || name.startsWith('.') || /[\u0000-\u001f\u007f]/.test(name) || Buffer.byteLength(name) > 255)
    throw new UserError(`image.name and image.version make an unsafe file name ${JSON.stringify(name)}`);
  return name;
}

/** The raw disk image of `plan` from the configured tree, then the template's artifacts made from it. */
export async function writeRawOutputs(c: OutputContext, plan: DiskPlan): Promise<Pick<OutputResult, 'artifacts' | 'imageBytes'>> {
  const raw = path.join(c.buildDir, rawImageName(c.template));
  await c.timed('disk', () =>
    assembleDisk(c.runner, plan, {
      rootDir: c.rootfs,
      imagePath: raw,
      stagingDir: c.staging,
      sourceDateEpoch: c.sourceDateEpoch,
      onProgress: (m) => c.emit({ type: 'info', message: m }),
    }),
  );
  const imageBytes = (await stat(raw)).size;
  const artifacts = await c.timed('finalize', () =>
    finalizeArtifacts(c.runner, { rawImage: raw, buildDir: c.buildDir, template: c.template, emit: c.emit, onReady: c.onReady }),
  );
  return { artifacts, imageBytes };
}

export function rawKind(template: ImageTemplate, seed: string): OutputKind {
  const disk = template.disk;
  if (!disk) throw new UserError('the template has no disk section');
  const plan = planDisk(disk, seed);
  return {
    fstab: fstab(plan),
    bootsInitramfs: true,
    async make(c) {
      const boot = await c.timed('boot', () => installBootloader(c.runner, { rootfs: c.rootfs, template: c.template, plan, emit: c.emit }));
      const { artifacts, imageBytes } = await writeRawOutputs(c, plan);
      return { artifacts, imageBytes, ...(boot ? { boot } : {}) };
    },
  };
}
