// Listing the workspace as entries: per provider, the chroot snapshot (with the
// unpacked chroot), installed-package snapshots, image builds, and what
// interrupted builds left behind. Paths as src/compose/rootfs/snapshot.ts,
// installed.ts and compose.ts make them.
import path from 'node:path';
import type { SnapshotStamp } from '../compose/rootfs/snapshot.js';
import { lstatIfExists, readFileNoFollow } from '../fs/safe.js';
import { readLastUse } from '../layout/last-use.js';
import { isLockScratch } from '../fs/lock.js';
import {
  imageBuildDir,
  imageBuildLock,
  imageBuildsDir,
  imageOfBuildLock,
  isProviderHold,
  INSTALLED_FILE,
  INSTALLED_REL,
  installedPaths,
  PROVIDER_DIRS,
  snapshotPaths,
  USED_DIR,
} from '../layout/paths.js';
import type { Entry } from './entries.js';
import { noteLink, type ScanSink, type Skipped, sinkOf, subdirs, treeBytes, visibleEntries } from './walk.js';

/** Locks of a provider's running builds: its chroot lock and every image build lock. */
export async function workspaceLocks(workDir: string, provider: string): Promise<string[]> {
  const builds = imageBuildsDir(workDir, provider);
  const names = await visibleEntries(builds);
  return [
    snapshotPaths(workDir, provider).lockDir,
    ...names.flatMap((d) => {
      if (!d.isDirectory()) return [];
      if (isProviderHold(d.name)) return [path.join(builds, d.name)];
      const image = imageOfBuildLock(d.name);
      return image === undefined ? [] : [imageBuildLock(imageBuildDir(workDir, provider, image))];
    }),
  ];
}

async function readStampKey(file: string): Promise<string | undefined> {
  const s = await readFileNoFollow(file)
    .then((t) => JSON.parse(t) as SnapshotStamp)
    // Missing, unreadable or not JSON: the snapshot shows as "(no stamp)", and verify calls it unusable.
    .catch(() => undefined);
  return typeof s?.key === 'string' ? s.key : undefined;
}

async function statOf(p: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  const st = await lstatIfExists(p);
  return st && { size: st.size, mtimeMs: st.mtimeMs };
}

// Folders of a provider's workspace (and of its last-use records) that a build makes; a link there is never entered.
const LAYOUT = [...PROVIDER_DIRS, INSTALLED_REL, USED_DIR, path.join(USED_DIR, 'chrootbuild'), path.join(USED_DIR, INSTALLED_REL)];

/** Every workspace entry of every provider under `workDir`; links are reported (and, with removeLinks, removed). */
export async function scanWorkspace(workDir: string, s: Skipped[] | ScanSink): Promise<Entry[]> {
  const sink = sinkOf(s);
  const out: Entry[] = [];
  for (const provider of await subdirs(workDir, sink)) {
    let linked = false;
    for (const rel of LAYOUT) {
      const p = path.join(workDir, provider, rel);
      const st = await lstatIfExists(p).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOTDIR') return undefined; // a parent is a link (just removed) or a file
        throw err;
      });
      if (st?.isSymbolicLink()) {
        await noteLink(p, sink);
        linked ||= !sink.removeLinks;
      }
    }
    // A listing that may not remove the link does not look behind it either.
    if (linked) continue;
    // Other things live in the work directory too (logs/): only what a build made is a provider's.
    const made = await Promise.all(PROVIDER_DIRS.map(async (d) => (await lstatIfExists(path.join(workDir, provider, d)))?.isDirectory() === true));
    if (made.some(Boolean)) out.push(...(await scanProvider(workDir, provider, sink)));
  }
  return out;
}

async function scanProvider(workDir: string, provider: string, sink: ScanSink): Promise<Entry[]> {
  const pr = path.join(workDir, provider);
  const sp = snapshotPaths(workDir, provider);
  const base = { tier: 'workspace' as const, group: provider, provider, root: workDir, guards: [] as string[] };
  const out: Entry[] = [];
  const [tar, stamp] = await Promise.all([statOf(sp.tarball), statOf(sp.stamp)]);
  const envBytes = await treeBytes(sp.chrootEnv, sink);
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
  const keys = new Set((await visibleEntries(dir, sink)).flatMap((d) => INSTALLED_FILE.exec(d.name)?.[1] ?? []));
  for (const key of [...keys].sort()) {
    const ip = installedPaths(workDir, provider, key);
    const [t, s] = await Promise.all([statOf(ip.tarball), statOf(ip.stamp)]);
    const rel = path.relative(pr, ip.tarball);
    out.push({
      ...base,
      name: key,
      kind: 'installed',
      path: ip.tarball,
      stamp: ip.stamp,
      companions: [ip.stamp],
      use: { root: pr, rel },
      bytes: (t?.size ?? 0) + (s?.size ?? 0),
      mtimeMs: t?.mtimeMs ?? s?.mtimeMs ?? 0,
      lastUseMs: await readLastUse(pr, rel),
      locks: [sp.lockDir],
    });
  }
  // Left by interrupted chroot builds; only made and removed under the chroot lock.
  for (const p of [sp.repoDir, `${sp.tarball}.tmp`, `${sp.chrootEnv}.tmp`]) {
    const st = await statOf(p);
    if (st)
      out.push({
        ...base,
        name: path.relative(pr, p),
        kind: 'scratch',
        path: p,
        companions: [],
        bytes: await treeBytes(p, sink),
        mtimeMs: st.mtimeMs,
        locks: [sp.lockDir],
      });
  }
  const builds = imageBuildsDir(workDir, provider);
  for (const d of await visibleEntries(builds, sink)) {
    if (d.isSymbolicLink()) await noteLink(path.join(builds, d.name), sink);
    if (!d.isDirectory() || imageOfBuildLock(d.name) !== undefined || isLockScratch(d.name)) continue;
    const p = path.join(builds, d.name);
    const st = await statOf(p);
    out.push({
      ...base,
      name: d.name,
      kind: 'imagebuild',
      path: p,
      companions: [],
      bytes: await treeBytes(p, sink),
      mtimeMs: st?.mtimeMs ?? 0,
      locks: [imageBuildLock(p)],
    });
  }
  return out;
}
