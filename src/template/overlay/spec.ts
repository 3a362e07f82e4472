// OS Image Composer's overlay mode: `baseline: {mode: overlay, source: {path |
// url, format}}` builds on an existing disk image instead of from scratch, as
// `overlayPolicy` allows. Here: the values the keys take, and what a template
// asks for in one typed value (merge.ts and validate.ts beside this file).
import type { ImageTemplate } from '../types.js';

export const BASELINE_MODES: readonly string[] = ['create', 'overlay'];
export const BASELINE_FORMATS = ['raw', 'qcow2', 'vhd', 'vhdx'] as const;
export type BaselineFormat = (typeof BASELINE_FORMATS)[number];
export const PACKAGE_OPERATIONS = ['additive-only', 'additive-and-upgrade'] as const;
export type PackageOperation = (typeof PACKAGE_OPERATIONS)[number];
export const CONFLICT_POLICIES: readonly string[] = ['fail', 'allow-explicit'];
/** additionalFiles[].stage values: a file the initramfs is made with. */
export const FILE_STAGES: readonly string[] = ['pre-initramfs'];

/** An overlay build, as the template asks for it. */
export interface OverlaySpec {
  source: { path: string } | { url: string };
  format: BaselineFormat;
  packageOperation: PackageOperation;
  /** fail, or allow-explicit: a baseline package that conflicts with a package the template names is removed. */
  conflictPolicy: string;
  /** overlayPolicy.kernelCmdline: the command line the overlaid image boots with, instead of the template's. */
  kernelCmdline?: string;
  allowDiskResize: boolean;
}

/** The overlay the template asks for, or undefined for a build from scratch (mode create, or no baseline). */
export function overlayOf(t: ImageTemplate): OverlaySpec | undefined {
  const b = t.baseline;
  if (b?.mode !== 'overlay') return undefined;
  const policy = t.overlayPolicy ?? {};
  const src = b.source ?? {};
  return {
    source: src.url !== undefined ? { url: src.url } : { path: src.path ?? '' },
    format: (src.format ?? 'raw') as BaselineFormat,
    packageOperation: (policy.packageOperation ?? 'additive-only') as PackageOperation,
    conflictPolicy: policy.conflictPolicy ?? 'fail',
    ...(policy.kernelCmdline !== undefined ? { kernelCmdline: policy.kernelCmdline } : {}),
    allowDiskResize: policy.allowDiskResize === true,
  };
}
