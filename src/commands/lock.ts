// The `lock` command: resolve a template target against signed metadata and
// write `<target>.lock.json` (or report that the existing one is current).
import type { Settings } from '../config/load.js';
import { readLock } from '../lock/file.js';
import type { LockedPackage, LockFile } from '../lock/types.js';
import type { Emit } from '../log/events.js';
import { matchingLock, resolveAndWrite } from '../packages/ensure-lock.js';
import { type OpenTarget, openTemplateTarget } from '../packages/target.js';
import { openCatalogue } from '../catalogue/open.js';
import { openInitramfsTarget } from '../packages/initramfs-target.js';

export interface LockOptions {
  settings: Settings;
  target: string;
  /** Resolve again even when the lock matches the template. */
  update: boolean;
  emit: Emit;
}

/** How a lock changed: packages added, removed and changed version. */
export interface LockChanges {
  added: string[];
  removed: string[];
  changed: Array<{ name: string; from: string; to: string }>;
}

export interface LockResult {
  target: string;
  lockFile: string;
  providerId: string;
  /** written: new or updated; current: the existing lock matches and was kept. */
  status: 'written' | 'current';
  packages: number;
  tools: number;
  bytes: number;
  changes?: LockChanges;
  graphs: string[];
  /** The lock of the ISO's initramfs target (systemConfig.initramfs), made first. */
  initramfs?: LockResult;
}

/** Resolve and write the lock; keep a matching one unless `update`. */
export async function lock(opts: LockOptions): Promise<LockResult> {
  const cat = await openCatalogue(opts.settings, opts.emit);
  const t = await openTemplateTarget(opts.settings, opts.target, opts.emit, cat);
  const derived = await openInitramfsTarget(opts.settings, cat, t, opts.emit);
  const initramfs = derived ? await lockOpened(derived, opts) : undefined;
  if (initramfs)
    opts.emit({ type: 'info', message: `initramfs ${initramfs.target}: ${initramfs.lockFile} ${initramfs.status} (${initramfs.packages} packages)` });
  return { ...(await lockOpened(t, opts)), ...(initramfs ? { initramfs } : {}) };
}

async function lockOpened(t: OpenTarget, opts: LockOptions): Promise<LockResult> {
  const existing = opts.update ? await readLock(t.lockFile) : await matchingLock(t);
  if (existing && !opts.update) return summary(t, existing, 'current', undefined, []);
  const { lock: fresh, graphs } = await resolveAndWrite(t, opts.settings, opts.emit);
  return summary(t, fresh, 'written', existing ? diffLocks(existing, fresh) : undefined, graphs);
}

function summary(t: OpenTarget, l: LockFile, status: LockResult['status'], changes: LockChanges | undefined, graphs: string[]): LockResult {
  const bytes = [...l.image.packages, ...l.tools.packages].reduce((n, p) => n + p.size, 0);
  return {
    target: t.target.name,
    lockFile: t.lockFile,
    providerId: l.providerId,
    status,
    packages: l.image.packages.length,
    tools: l.tools.packages.length,
    bytes,
    changes,
    graphs,
  };
}

/** What changed between two locks (image and tools together). */
export function diffLocks(before: LockFile, after: LockFile): LockChanges {
  const index = (l: LockFile) => new Map<string, LockedPackage>([...l.image.packages, ...l.tools.packages].map((p) => [p.name, p]));
  const a = index(before);
  const b = index(after);
  const added = [...b.keys()].filter((n) => !a.has(n)).sort();
  const removed = [...a.keys()].filter((n) => !b.has(n)).sort();
  const changed = [...b.values()]
    .filter((p) => a.has(p.name) && a.get(p.name)?.version !== p.version)
    .map((p) => ({ name: p.name, from: a.get(p.name)?.version ?? '', to: p.version }))
    .sort((x, y) => (x.name < y.name ? -1 : 1));
  return { added, removed, changed };
}
