// Validation of an overlay's keys: every value the build would act on, checked.
import { escapeInline } from '../../text/untrusted.js';
import type { Problems } from '../problems.js';
import type { ImageTemplate } from '../types.js';
import { BASELINE_FORMATS, BASELINE_MODES, CONFLICT_POLICIES, FILE_STAGES, PACKAGE_OPERATIONS } from './spec.js';

/** baseline, overlayPolicy and additionalFiles[].stage: every value the build would act on, checked. */
export function validateOverlay(t: ImageTemplate, out: Problems): void {
  t.systemConfig?.additionalFiles?.forEach((f, i) => {
    if (f.stage !== undefined && !FILE_STAGES.includes(f.stage))
      out.error(f, 'stage', `systemConfig.additionalFiles[${i}].stage`, `"${escapeInline(f.stage)}" is not supported (supported: ${FILE_STAGES.join(', ')})`);
  });
  const b = t.baseline;
  const policy = t.overlayPolicy;
  const mode = b?.mode ?? 'create';
  if (b && !BASELINE_MODES.includes(mode)) {
    out.error(b, 'mode', 'baseline.mode', `"${escapeInline(mode)}" is not supported (supported: ${BASELINE_MODES.join(', ')})`);
    return;
  }
  if (mode === 'create') {
    if (b?.source !== undefined)
      out.error(b, 'source', 'baseline.source', 'must be absent in create mode (set baseline.mode: overlay to build on an existing image)');
    if (policy !== undefined) out.error(t, 'overlayPolicy', 'overlayPolicy', 'is only for baseline.mode: overlay; remove it');
    return;
  }
  if (t.target?.imageType !== undefined && t.target.imageType !== 'raw')
    out.error(b, 'mode', 'baseline.mode', `overlay builds a raw disk image, not imageType ${escapeInline(t.target.imageType)}`);
  const src = b?.source;
  if (!src) out.error(b, 'source', 'baseline.source', 'is required in overlay mode: {path: <image>} or {url: https://...}, and format');
  else {
    if ((src.path === undefined) === (src.url === undefined)) out.error(b, 'source', 'baseline.source', 'must have exactly one of path and url');
    if (src.path === '') out.error(src, 'path', 'baseline.source.path', 'is empty');
    if (src.url !== undefined) {
      if (!/^https:\/\/[^/]/i.test(src.url))
        out.error(src, 'url', 'baseline.source.url', `must be an https:// URL (plain http is refused): "${escapeInline(src.url)}"`);
    }
    if (src.format !== undefined && !(BASELINE_FORMATS as readonly string[]).includes(src.format))
      out.error(src, 'format', 'baseline.source.format', `"${escapeInline(src.format)}" is not supported (supported: ${BASELINE_FORMATS.join(', ')})`);
  }
  if (t.disk?.partitions !== undefined)
    out.error(t.disk, 'partitions', 'disk.partitions', "is not used in overlay mode: the layout is the baseline's; remove it");
  if (!policy) return;
  if (policy.packageOperation !== undefined && !(PACKAGE_OPERATIONS as readonly string[]).includes(policy.packageOperation))
    out.error(
      policy,
      'packageOperation',
      'overlayPolicy.packageOperation',
      `"${escapeInline(policy.packageOperation)}" is not supported (supported: ${PACKAGE_OPERATIONS.join(', ')})`,
    );
  if (policy.conflictPolicy !== undefined && !CONFLICT_POLICIES.includes(policy.conflictPolicy))
    out.error(
      policy,
      'conflictPolicy',
      'overlayPolicy.conflictPolicy',
      `"${escapeInline(policy.conflictPolicy)}" is not supported (supported: ${CONFLICT_POLICIES.join(', ')})`,
    );
  if (policy.allowPackageRemoval === true)
    out.error(policy, 'allowPackageRemoval', 'overlayPolicy.allowPackageRemoval', 'is true, but an overlay only adds (and upgrades) packages; set it to false');
  if (policy.kernelCmdline !== undefined && /[\n\r\0]/.test(policy.kernelCmdline))
    out.error(policy, 'kernelCmdline', 'overlayPolicy.kernelCmdline', 'must be one line');
}
