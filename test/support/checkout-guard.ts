// Integration tests must leave the checkout's own state alone: a CLI started
// from the toolkit defaults to its package cache ./cache, its workspace
// ./workspace (with the run log in workspace/logs) and the catalogue folder
// docker/ (docker/.g3-cache, docker/<target>.lock.json). A test that forgets to
// point G3_CACHE_DIR, G3_WORK_DIR or G3_TARGETS elsewhere writes there, mixes
// its state with the developer's and reads what an earlier run left. The
// global setup lists these folders before the run and compares afterwards.
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * The folders under the project root that no integration test may create,
 * change or remove anything in. No test is exempt: the tests of the default
 * target build from a copy of docker/ (copyProjectCatalogue).
 */
export const GUARDED = ['cache', 'workspace', 'docker'] as const;

/** Path relative to the project root -> what tells a change (kind, size, mtime). */
export type Listing = Map<string, string>;

/** Every path in the guarded folders of `root`, links not followed; a folder's own mtime counts, so an entry made and removed again shows too. */
export async function listGuarded(root: string): Promise<Listing> {
  const out: Listing = new Map();
  const add = async (rel: string): Promise<boolean> => {
    const st = await lstat(path.join(root, rel)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!st) return false;
    const kind = st.isDirectory() ? 'folder' : st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : 'other';
    out.set(rel, `${kind} ${st.isDirectory() ? '' : `${st.size} bytes `}mtime ${st.mtime.toISOString()}`);
    return st.isDirectory();
  };
  const walk = async (rel: string): Promise<void> => {
    if (!(await add(rel))) return;
    const entries: Dirent[] = await readdir(path.join(root, rel), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const e of entries) await walk(path.join(rel, e.name));
  };
  for (const folder of GUARDED) await walk(folder);
  return out;
}

/** What differs between two listings, one line per path, sorted by path: created, changed (before -> after) or removed. */
export function changes(before: Listing, after: Listing): string[] {
  const out: [string, string][] = [];
  for (const [rel, now] of after) {
    const was = before.get(rel);
    if (was === undefined) out.push([rel, `created ${rel} (${now})`]);
    else if (was !== now) out.push([rel, `changed ${rel} (${was} -> ${now})`]);
  }
  for (const rel of before.keys()) if (!after.has(rel)) out.push([rel, `removed ${rel}`]);
  return out.sort(([a], [b]) => a.localeCompare(b)).map(([, line]) => line);
}

/** The teardown's error for `found` changes: the first few, how many more, and the usual cause. */
export function guardMessage(root: string, found: string[], shown = 20): string {
  return [
    `the integration tests changed the project's own ${GUARDED.map((f) => `${f}/`).join(', ')} in ${root}:`,
    ...found.slice(0, shown).map((l) => `  ${l}`),
    ...(found.length > shown ? [`  ... and ${found.length - shown} more`] : []),
    'A test that runs the CLI must give it its own G3_CACHE_DIR, G3_WORK_DIR and G3_TARGETS (makeProject and makeTemplateProject do;',
    'a test of the default target builds from copyProjectCatalogue). A CLI run or an edit there by hand during the test run shows here too.',
  ].join('\n');
}
