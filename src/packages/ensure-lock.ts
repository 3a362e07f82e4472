// A template target's lock, made usable: the existing one when it matches the
// template (a mismatch is an error, never used silently), else resolved from
// signed metadata and written, with its Graphviz files.
import type { Settings } from '../config/load.js';
import { UserError } from '../errors.js';
import { lockMismatch, readLock, writeLock } from '../lock/file.js';
import type { LockFile } from '../lock/types.js';
import type { Emit } from '../log/events.js';
import { writeGraphs } from './graphs.js';
import { checkKernelVersion } from './kernel-version.js';
import { resolvePlan } from './resolve-lock.js';
import { fetchSettings, metadataOptions, type OpenTarget } from './target.js';

/** The target's lock when it matches the template; undefined when there is none; a mismatch is an error, never used. */
export async function matchingLock(t: OpenTarget): Promise<LockFile | undefined> {
  const existing = await readLock(t.lockFile);
  const mismatch = existing && lockMismatch(existing, t.plan.request);
  if (mismatch)
    throw new UserError(
      `lock ${t.lockFile} does not match the template of ${t.target.name}: ${mismatch}`,
      `Run: <builder> ${t.target.name} lock --update (or delete the lock)`,
    );
  if (existing) checkKernelVersion(existing, t.template.systemConfig?.kernel?.version, t.target.name);
  return existing;
}

/** Resolve a target and write its lock and Graphviz files. */
export async function resolveAndWrite(t: OpenTarget, settings: Settings, emit: Emit): Promise<{ lock: LockFile; graphs: string[] }> {
  emit({ type: 'info', message: `resolving ${t.target.name} (${t.plan.providerId}) from ${t.plan.repos.length} repositories` });
  const resolved = await resolvePlan(t.target.name, t.plan, metadataOptions(settings, emit), {
    dir: t.pkgDir,
    fetch: fetchSettings(settings),
    offline: settings.offline,
  });
  // Before it is written: a lock with another kernel than kernel.version asks for is no lock for this template.
  checkKernelVersion(resolved.lock, t.template.systemConfig?.kernel?.version, t.target.name);
  await writeLock(t.lockFile, resolved.lock);
  const graphs = await writeGraphs(t, resolved);
  emit({ type: 'info', message: `wrote ${t.lockFile}: ${resolved.lock.image.packages.length} packages, ${resolved.lock.tools.packages.length} tools` });
  return { lock: resolved.lock, graphs };
}

/** The lock to fetch from: the matching one, else resolved and written now (a caller that only checks uses matchingLock). */
export async function ensureLock(t: OpenTarget, settings: Settings, emit: Emit): Promise<LockFile> {
  const existing = await matchingLock(t);
  if (existing) return existing;
  emit({ type: 'info', message: `no lock for ${t.target.name}: resolving and writing ${t.lockFile}` });
  return (await resolveAndWrite(t, settings, emit)).lock;
}
