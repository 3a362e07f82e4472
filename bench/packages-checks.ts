// What every run of the packages benchmark is checked for, and the probes of
// how each side treats a damaged file. A check throws an Error naming what was wrong.
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RefreshReport } from '../src/cache/refresh.js';
import { hashFile } from '../src/fs/hash.js';
import type { LockedPackage } from '../src/lock/types.js';
import type { Run } from './measure.js';

function expect(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** The command exited 0. */
export function expectExit(run: Run): void {
  expect(run.exitCode === 0, `exit code ${run.exitCode}, expected 0`);
}

/** The one JSON document a `--json` run prints. */
export function jsonOf<T>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error('stdout is not the one JSON document --json promises');
  }
}

/** A `cache --json` run that is ok, covers `items`, and fetched exactly `downloads` files (`bytes` in all). */
export function expectCache(run: Run, items: number, downloads: number, bytes: number): RefreshReport {
  expectExit(run);
  const j = jsonOf<RefreshReport & { command: string }>(run);
  expect(j.command === 'cache' && j.ok === true, `JSON says ok=${j.ok}`);
  expect(j.items === items, `JSON says ${j.items} items, the lock has ${items} packages`);
  expect(j.failures.length === 0 && j.missing.length === 0, `JSON lists ${j.failures.length} failures and ${j.missing.length} missing items`);
  expect(j.downloads === downloads, `JSON says downloads=${j.downloads}, expected ${downloads}`);
  expect(j.bytesDownloaded === bytes, `JSON says bytesDownloaded=${j.bytesDownloaded}, expected ${bytes}`);
  expect(j.hits.local === items - downloads, `JSON says hits.local=${j.hits.local}, expected ${items - downloads}`);
  return j;
}

/** `dir` holds exactly the locked files (by SHA256; apt names files differently), each intact. */
export async function expectFiles(dir: string, packages: readonly LockedPackage[]): Promise<void> {
  const want = new Map(packages.map((p) => [p.sha256, p]));
  const names = (await readdir(dir)).filter((n) => n.endsWith('.deb'));
  expect(names.length === want.size, `${dir} holds ${names.length} .deb files, the lock has ${want.size} packages`);
  for (const n of names) {
    const { sha256 } = await hashFile(path.join(dir, n));
    expect(want.delete(sha256), `${dir}/${n} (sha256 ${sha256}) is not one of the locked files`);
  }
}

/** An apt-get download run that fetched nothing (every file was already there). */
export function expectNoFetch(run: Run): void {
  expectExit(run);
  expect(!/^Get:/m.test(run.stdout), `apt-get fetched files although all were present:\n${run.stdout.split('\n').slice(0, 3).join('\n')}`);
}

/** Overwrite 16 bytes in the middle of a file: same size, wrong content. */
export async function damage(file: string): Promise<void> {
  const data = await readFile(file);
  const at = Math.floor(data.length / 2);
  for (let i = 0; i < 16 && at + i < data.length; i++) data[at + i] = (data[at + i] ?? 0) ^ 0xff;
  await writeFile(file, data);
}

/** Whether a file's content matches `sha256`. */
export async function intact(file: string, sha256: string): Promise<boolean> {
  return (
    createHash('sha256')
      .update(await readFile(file))
      .digest('hex') === sha256
  );
}

/** The apt-get download file name of a package (the epoch's colon escaped as apt does). */
export function aptFileName(p: LockedPackage): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.architecture}.deb`;
}

/** `sha256sum -c` input for the locked files, relative to the directory that holds them. */
export function sha256List(packages: readonly LockedPackage[]): string {
  return packages.map((p) => `${p.sha256}  ${path.posix.basename(p.filename)}\n`).join('');
}
