// The `cache` command: refresh (or only check) a target's g3-cache.
import { findTarget, loadCatalogue } from '../catalogue/load.js';
import type { Catalogue } from '../catalogue/types.js';
import { type CheckReport, checkLocal, type RefreshReport, refresh } from '../cache/refresh.js';
import type { Settings } from '../config/load.js';
import type { Emit } from '../log/events.js';

export interface CacheOptions {
  settings: Settings;
  target: string;
  /** Only report whether a refresh is needed; change nothing. */
  check: boolean;
  /** Ignore stamps and rehash every file. */
  verify: boolean;
  emit: Emit;
}

export type CacheResult = { mode: 'refresh'; target: string; report: RefreshReport } | { mode: 'check'; target: string; report: CheckReport };

/** Load the catalogue with the URL variables configuration provides. */
export async function openCatalogue(settings: Settings, emit: Emit): Promise<Catalogue> {
  const cat = await loadCatalogue(settings.targets, { mirror: settings.mirror, security_mirror: settings.securityMirror });
  for (const w of cat.warnings) emit({ type: 'warning', message: w });
  return cat;
}

/** Refresh or check the local g3-cache of one target. */
export async function cache(opts: CacheOptions): Promise<CacheResult> {
  const s = opts.settings;
  const target = findTarget(await openCatalogue(s, opts.emit), opts.target);
  if (target.artifacts.length === 0) opts.emit({ type: 'info', message: `target ${target.name} has no artifacts: nothing to cache` });
  if (opts.check) {
    const report = await checkLocal(target.artifacts, s.g3Cache, { verify: opts.verify, workers: s.workers });
    return { mode: 'check', target: target.name, report };
  }
  const report = await refresh(target.artifacts, {
    localRoot: s.g3Cache,
    sharedPath: s.sharedCache,
    workers: s.workers,
    offline: s.offline,
    verify: opts.verify,
    lockStaleMs: s.lockStaleMs,
    fetch: { timeoutMs: s.httpTimeoutMs, retries: s.retries, minBackoffMs: s.retryBackoffMs, maxRetryAfterMs: 120_000 },
    emit: opts.emit,
  });
  return { mode: 'refresh', target: target.name, report };
}
