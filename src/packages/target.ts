// Opening a template target: catalogue, merged template, package plan, lock path.
import { findTarget } from '../catalogue/load.js';
import type { Catalogue, Target } from '../catalogue/types.js';
import { openCatalogue } from '../catalogue/open.js';
import type { Settings } from '../config/load.js';
import type { FetchSettings } from '../net/fetch.js';
import { lockPathFor } from '../lock/file.js';
import type { Emit } from '../log/events.js';
import type { MetadataOptions } from '../repo/deb/types.js';
import { loadTargetTemplate } from '../template/target.js';
import { makePlan, type PackagePlan, type PlanTemplate, targetTools } from './plan.js';
import { metadataDir, packageDir } from '../layout/paths.js';
import type { ImageTemplate } from '../template/types.js';

/** A template target, ready for the packages stage. */
export interface OpenTarget {
  target: Target;
  catalogueFile: string;
  templateFile: string;
  lockFile: string;
  plan: PackagePlan;
  /** `<cache_dir>/pkgCache/<provider-id>`. */
  pkgDir: string;
  /** The template merged over its default, validated. */
  template: ImageTemplate;
}

/** Whether a target names an image template. */
export function isTemplateTarget(t: Target): boolean {
  return t.template !== undefined;
}

/** Open a target that has a template (from `cat` when the caller has it loaded); template warnings are emitted. */
export async function openTemplateTarget(settings: Settings, name: string, emit: Emit, loaded?: Catalogue): Promise<OpenTarget> {
  const cat = loaded ?? (await openCatalogue(settings, emit));
  const target = findTarget(cat, name);
  const t = await loadTargetTemplate({
    catalogueFile: cat.file,
    target,
    projectRoot: settings.projectRoot,
    vars: { mirror: settings.mirror, security_mirror: settings.securityMirror, work_dir: settings.workDir },
  });
  for (const w of t.warnings) emit({ type: 'warning', message: w });
  const plan = await makePlan(t.merged as PlanTemplate, {
    providerId: t.providerId,
    templateFile: t.file,
    projectRoot: settings.projectRoot,
    tools: targetTools(target),
    chain: t.chain,
  });
  return {
    target,
    catalogueFile: cat.file,
    templateFile: t.file,
    lockFile: lockPathFor(cat.file, target.name),
    plan,
    pkgDir: packageDir(settings.cacheDir, t.providerId),
    template: t.merged as ImageTemplate,
  };
}

/** HTTP settings from configuration. */
export function fetchSettings(s: Settings): FetchSettings {
  return {
    timeoutMs: s.httpTimeoutMs,
    retries: s.retries,
    minBackoffMs: s.retryBackoffMs,
    maxRetryAfterMs: 120_000,
    maxBytes: s.maxDownloadBytes,
    minBytesPerSecond: s.httpMinSpeed,
  };
}

/** Options for reading repository metadata. */
export function metadataOptions(s: Settings, emit: Emit): MetadataOptions {
  return {
    storeDir: metadataDir(s.cacheDir),
    offline: s.offline,
    ignoreValidUntil: s.ignoreValidUntil,
    fetch: fetchSettings(s),
    maxIndexBytes: s.maxIndexBytes,
    emit,
  };
}
