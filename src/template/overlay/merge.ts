// How the merge over the default template differs for an overlay: only what
// the user's templates state is added to the baseline.
import { inherit } from '../origin.js';
import type { ImageTemplate } from '../types.js';

/**
 * The merged template of an overlay: what the default template brings to a
 * build from scratch (its packages, the bootloader's, its disk layout and
 * size, its host name) is already in the baseline or is the baseline's, so
 * only what the user's templates state is kept. The disk keeps the default's
 * artifacts when the user gives no disk.
 */
export function overlayMerge(merged: ImageTemplate, user: ImageTemplate): ImageTemplate {
  const out: ImageTemplate = { ...merged };
  inheritAll(out, merged);
  const sys = { ...(merged.systemConfig ?? {}) };
  inheritAll(sys, merged.systemConfig ?? {});
  const usys = user.systemConfig ?? {};
  sys.packages = usys.packages ?? [];
  if (usys.packages) inherit(sys, 'packages', usys);
  if (usys.hostname === undefined) delete sys.hostname;
  if (sys.kernel) {
    sys.kernel = { ...sys.kernel, packages: usys.kernel?.packages ?? [] };
    inheritAll(sys.kernel, merged.systemConfig?.kernel ?? {});
    if (usys.kernel?.packages) inherit(sys.kernel, 'packages', usys.kernel);
  }
  out.systemConfig = sys;
  if (user.disk) {
    out.disk = user.disk;
    inherit(out, 'disk', user);
  } else if (merged.disk) {
    out.disk = merged.disk.artifacts ? { artifacts: merged.disk.artifacts } : {};
    if (merged.disk.artifacts) inherit(out.disk, 'artifacts', merged.disk);
  }
  return out;
}

function inheritAll(to: object, from: object): void {
  for (const key of Object.keys(from)) inherit(to, key, from);
}
