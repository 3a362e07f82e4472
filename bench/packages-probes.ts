// Probes, not timings: what each side does when a cached file has the right
// size but the wrong content (a torn write, a bit flip on disk).
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { RefreshReport } from '../src/cache/refresh.js';
import type { LockFile } from '../src/lock/types.js';
import { aptFileName, damage, intact, jsonOf } from './packages-checks.js';
import type { PackagesContext } from './packages-scenarios.js';
import { TARGET } from './packages-target.js';
import { runOnce } from './measure.js';

/** What one side did with a damaged file of the same size. */
export interface DamageProbe {
  package: string;
  /** The tool fetched the file again. */
  refetched: boolean;
  /** The file in place afterwards has the locked SHA256. */
  intactAfter: boolean;
  exitCode: number;
}

/** Damage the smallest locked package in both caches, rerun each side's warm command, and report. */
export async function probeDamage(ctx: PackagesContext, lock: LockFile): Promise<{ ours: DamageProbe; apt: DamageProbe }> {
  const p = [...lock.image.packages].sort((a, b) => a.size - b.size)[0];
  if (!p) throw new Error('the lock has no packages');
  const ourFile = path.join(ctx.paths.fetchCacheDir, 'pkgCache', lock.providerId, path.posix.basename(p.filename));
  const aptFile = path.join(ctx.paths.aptDownload, aptFileName(p));
  await access(ourFile);
  await access(aptFile);

  await damage(ourFile);
  const args = [
    TARGET,
    'cache',
    '--json',
    '--targets',
    ctx.paths.targets,
    '--cache-dir',
    ctx.paths.fetchCacheDir,
    '--g3-cache',
    ctx.paths.g3Cache,
    '--shared-cache',
    '',
  ];
  const r = await runOnce(
    { label: 'damaged: builder.sh cache', file: path.join(ctx.root, 'builder.sh'), args, cwd: ctx.root, check: async () => undefined },
    ctx.env,
  );
  let downloads = 0;
  try {
    downloads = jsonOf<RefreshReport>(r).downloads;
  } catch {
    // A run that printed no JSON refetched nothing we can count; the exit code and the file tell the rest.
  }
  const ours = { package: p.name, refetched: downloads === 1, intactAfter: await intact(ourFile, p.sha256), exitCode: r.exitCode };

  await damage(aptFile);
  const a = await runOnce(
    {
      label: 'damaged: apt-get download',
      file: 'env',
      args: [`APT_CONFIG=${ctx.apt.env.APT_CONFIG}`, 'apt-get', 'download', `${p.name}=${p.version}`],
      cwd: ctx.paths.aptDownload,
      check: async () => undefined,
    },
    ctx.env,
  );
  const apt = { package: p.name, refetched: /^Get:/m.test(a.stdout), intactAfter: await intact(aptFile, p.sha256), exitCode: a.exitCode };
  ctx.log(
    `damaged ${p.name} (same size): builder.sh cache ${ours.refetched ? 'refetched it' : 'kept it'}, apt-get download ${apt.refetched ? 'refetched it' : 'kept it'}`,
  );
  return { ours, apt };
}
