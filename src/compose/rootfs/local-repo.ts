// A local file repository made from a lock: the locked files of the package
// cache (already verified against the signed indexes) and a Packages index
// that lists exactly them. apt and mmdebstrap read it without any network.
import { mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { StepError, UserError } from '../../errors.js';
import type { LockedPackage } from '../../lock/types.js';
import { poolFile } from '../../packages/artifacts.js';
import type { Runner } from '../../docker/runner.js';
import { flattenIndex } from './local-index.js';

export interface LocalRepo {
  dir: string;
  /** The directory the symlinks point into (must be visible at the same path wherever apt runs). */
  pkgDir: string;
  /** An apt sources line for apt inside a chroot that sees both paths. */
  fileSource: string;
  /** A sources line for mmdebstrap, which copies the files into its chroot. */
  copySource: string;
}

/**
 * Make `dir` a flat repository of `packages` from `pkgDir`: one symlink per
 * locked file, and a Packages index written by apt-ftparchive with SHA256 only (in `runner`'s
 * world, which sees the same paths). The index's SHA256 of every file is
 * checked against the lock, so a file changed after verification is caught.
 */
export async function makeLocalRepo(runner: Runner, opts: { dir: string; pkgDir: string; packages: LockedPackage[] }): Promise<LocalRepo> {
  await rm(opts.dir, { recursive: true, force: true });
  await mkdir(opts.dir, { recursive: true });
  const expected = new Map<string, LockedPackage>();
  for (const p of opts.packages) {
    const file = poolFile(p);
    if (expected.has(file)) continue;
    expected.set(file, p);
    await symlink(path.join(opts.pkgDir, file), path.join(opts.dir, file));
  }
  // SHA256 alone, the one hash apt needs: MD5, SHA1 and SHA512 of every file too took 1.3 s instead of 0.36 s for
  // the OS Image Composer template's 324 files.
  const r = await runner.run([
    'sh',
    '-c',
    'cd "$1" && apt-ftparchive -o APT::FTPArchive::MD5=false -o APT::FTPArchive::SHA1=false -o APT::FTPArchive::SHA512=false packages . > Packages.tmp && mv Packages.tmp Packages',
    'sh',
    opts.dir,
  ]);
  if (r.exitCode !== 0) throw new StepError(`apt-ftparchive could not index ${opts.dir}`, { stderr: r.stderr });
  // Each file named by its link in `dir` (the repository is flat), streamed: the index is never one string.
  const indexed = await flattenIndex(path.join(opts.dir, 'Packages'), 'local');
  checkIndex(
    indexed.map((x) => ({ file: path.posix.basename(x.filename), sha256: x.sha256, name: x.name })),
    expected,
    opts.pkgDir,
  );
  return {
    dir: opts.dir,
    pkgDir: opts.pkgDir,
    fileSource: `deb [trusted=yes] file:${opts.dir} ./`,
    copySource: `deb [trusted=yes] copy://${opts.dir} ./`,
  };
}

/** Every locked file is indexed once, with the locked SHA256. */
export function checkIndex(indexed: Array<{ file: string; sha256: string; name: string }>, expected: ReadonlyMap<string, LockedPackage>, pkgDir: string): void {
  const seen = new Set<string>();
  for (const x of indexed) {
    const want = expected.get(x.file);
    if (!want) throw new StepError(`local repository lists ${x.file}, which the lock does not name`);
    if (seen.has(x.file)) throw new StepError(`local repository lists ${x.file} twice`);
    if (want.sha256 !== x.sha256) {
      throw new UserError(
        `${path.join(pkgDir, x.file)} changed after it was verified (SHA256 ${x.sha256}, lock says ${want.sha256})`,
        'Run `cache --verify` to refetch it.',
      );
    }
    seen.add(x.file);
  }
  const missing = [...expected.keys()].filter((f) => !seen.has(f));
  if (missing.length > 0) {
    throw new UserError(
      `${missing.length} locked package file(s) are missing from ${pkgDir}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
      'Run `./builder.sh <target> cache` first.',
    );
  }
}
