// Listing the workspace as entries: per provider, the chroot snapshot (with the
// unpacked chroot), installed-package snapshots, image builds, and what
// interrupted builds left behind. Paths as src/compose/snapshot.ts,
// installed.ts and compose.ts make them.
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { installedPaths } from '../../compose/installed.js';
import { type SnapshotStamp, snapshotPaths } from '../../compose/snapshot.js';
import { readLastUse } from '../last-use.js';
import type { Entry } from './entries.js';
import { type Skipped, subdirs, treeBytes, visibleEntries } from './fsutil.js';

const PROVIDER_DIRS = ['chrootbuild', 'chrootenv', 'imagebuild'];
const INSTALLED = /^([0-9a-f]{64})\.(json|tar\.zst)$/;

/** Locks of a provider's running builds: its chroot lock and every image build lock. */
export async function workspaceLocks(workDir: string, provider: string): Promise<string[]> {
  const imagebuild = path.join(workDir, provider, 'imagebuild');
  const names = await visibleEntries(imagebuild);
  return [snapshotPaths(workDir, provider).lockDir, ...names.filter((d) => d.isDirectory() && d.name.endsWith('.lock')).map((d) => path.join(imagebuild, d.name))];
}

async function readStampKey(file: string): Promise<string | undefined> {
  const s = await readFile(file, 'utf8')
    .then((t) => JSON.parse(t) as SnapshotStamp)
    .catch(() => undefined);
  return typeof s?.key === 'string' ? s.key : undefined;
}

async function statOf(p: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  return lstat(p).then(
    (s) => ({ size: s.size, mtimeMs: s.mtimeMs }),
    () => undefined,
  );
}

/** Every workspace entry of every provider under `workDir`. */
export async function scanWorkspace(workDir: string, skipped: Skipped[]): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const provider of await subdirs(workDir, skipped)) {
    // Other things live in the work directory too (logs/): only what a build made is a provider's.
    const made = await Promise.all(PROVIDER_DIRS.map((d) => lstat(path.join(workDir, provider, d)).then((s) => s.isDirectory(), () => false)));
    if (made.some(Boolean)) out.push(...(await scanProvider(workDir, provider)));
  }
  return out;
}

async function scanProvider(workDir: string, provider: string): Promise<Entry[]> {
  const pr = path.join(workDir, provider);
  const sp = snapshotPaths(workDir, provider);
  const base = { tier: 'workspace' as const, group: provider, provider, root: workDir, guards: [] as string[] };
  const out: Entry[] = [];
  const [tar, stamp] = await Promise.all([statOf(sp.tarball), statOf(sp.stamp)]);
  const envBytes = await treeBytes(sp.chrootEnv);
  if (tar || stamp || envBytes > 0) {
    out.push({
      ...base,
      name: (await readStampKey(sp.stamp)) ?? '(no stamp)',
      kind: 'chroot',
      path: sp.tarball,
      stamp: sp.stamp,
      companions: [sp.stamp, sp.chrootEnv],
      use: { root: pr, rel: path.relative(pr, sp.tarball) },
      bytes: (tar?.size ?? 0) + (stamp?.size ?? 0) + envBytes,
      mtimeMs: tar?.mtimeMs ?? stamp?.mtimeMs ?? 0,
      lastUseMs: await readLastUse(pr, path.relative(pr, sp.tarball)),
      locks: [sp.lockDir],
    });
  }
  const dir = installedPaths(workDir, provider, '0'.repeat(64)).dir;
  const keys = new Set((await visibleEntries(dir)).flatMap((d) => INSTALLED.exec(d.name)?.[1] ?? []));
  for (const key of [...keys].sort()) {
    const ip = installedPaths(workDir, provider, key);
    const [t, s] = await Promise.all([statOf(ip.tarball), statOf(ip.stamp)]);
    const rel = path.relative(pr, ip.tarball);
    out.push({ ...base, name: key, kind: 'installed', path: ip.tarball, stamp: ip.stamp, companions: [ip.stamp], use: { root: pr, rel }, bytes: (t?.size ?? 0) + (s?.size ?? 0), mtimeMs: t?.mtimeMs ?? s?.mtimeMs ?? 0, lastUseMs: await readLastUse(pr, rel), locks: [sp.lockDir] });
  }
  // Left by interrupted chroot builds; only made and removed under the chroot lock.
  for (const p of [path.join(pr, 'chrootbuild', 'repo'), `${sp.tarball}.tmp`, `${sp.chrootEnv}.tmp`]) {
    const st = await statOf(p);
    if (st) out.push({ ...base, name: path.relative(pr, p), kind: 'scratch', path: p, companions: [], bytes: await treeBytes(p), mtimeMs: st.mtimeMs, locks: [sp.lockDir] });
  }
  const builds = path.join(pr, 'imagebuild');
  for (const d of await visibleEntries(builds)) {
    if (!d.isDirectory() || d.name.endsWith('.lock') || /\.lock\.(new|stale|released)-/.test(d.name)) continue;
    const p = path.join(builds, d.name);
    const st = await statOf(p);
    out.push({ ...base, name: d.name, kind: 'imagebuild', path: p, companions: [], bytes: await treeBytes(p), mtimeMs: st?.mtimeMs ?? 0, locks: [`${p}.lock`] });
  }
  return out;
}
