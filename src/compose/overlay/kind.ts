// The output of an overlay: as imageType raw, with the baseline's layout
// (plan.ts) instead of the template's, the fstab the baseline has, and the
// template's additionalFiles without a stage written last, after the
// initramfs and the boot files are made again (as OS Image Composer orders them).
import path from 'node:path';
import type { ImageTemplate } from '../../template/types.js';
import { installBootloader } from '../boot/boot.js';
import { installLateFiles } from '../configure/configure.js';
import type { DiskPlan } from '../disk/plan.js';
import { writeRawOutputs } from '../kinds/raw.js';
import type { OutputKind } from '../kinds/types.js';

/** The template the boot stage sees: overlayPolicy.kernelCmdline, when given, is the command line. */
export function bootTemplate(template: ImageTemplate): ImageTemplate {
  const cmdline = template.overlayPolicy?.kernelCmdline;
  if (cmdline === undefined) return template;
  const sys = template.systemConfig ?? {};
  return { ...template, systemConfig: { ...sys, kernel: { ...sys.kernel, cmdline } } };
}

export function overlayKind(plan: DiskPlan): OutputKind {
  return {
    // The baseline's /etc/fstab names its partitions, whose identifiers the plan keeps.
    fstab: undefined,
    bootsInitramfs: true,
    async make(c) {
      const boot = await c.timed('boot', () => installBootloader(c.runner, { rootfs: c.rootfs, template: bootTemplate(c.template), plan, emit: c.emit }));
      await c.timed('configure', () => installLateFiles(c.runner, c.rootfs, c.template.systemConfig ?? {}, path.dirname(c.templateFile), c.emit));
      const { artifacts, imageBytes } = await writeRawOutputs(c, plan);
      return { artifacts, imageBytes, ...(boot ? { boot } : {}) };
    },
  };
}
