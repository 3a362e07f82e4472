// The apt side of the packages benchmark: a private apt configuration on the
// same repositories as the template (test/support/apt.ts), and the commands a
// user would otherwise run: install --simulate and download.
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { LockedPackage } from '../src/lock/types.js';
import type { PackagePlan } from '../src/packages/plan.js';
import { type AptInstall, aptUpdate, parseSimulate } from '../test/support/apt.js';

export { parseSimulate };

/** A private apt whose lists are updated: the environment that selects it. */
export interface PrivateApt {
  dir: string;
  /** APT_CONFIG for every apt command of the benchmark. */
  env: Record<string, string>;
  warnings: string[];
}

/** sources.list lines for the plan's repositories, each with its own keyring (as the template says). */
export function aptSources(plan: PackagePlan): string {
  return plan.repos.map((r) => `deb [arch=${plan.arch} signed-by=${r.keyrings.join(',')}] ${r.url} ${r.codename} ${r.components.join(' ')}`).join('\n');
}

/** Run apt-get update in `dir` (timed by the caller); throws with apt's output when it fails. */
export async function updatePrivateApt(dir: string, plan: PackagePlan): Promise<PrivateApt> {
  const r = await aptUpdate({ sources: aptSources(plan), arch: plan.arch, dir });
  if (!r.ok) throw new Error(`apt-get update with the private configuration failed (exit ${r.exitCode}):\n${r.output}`);
  // test/support/apt.ts keeps its configuration in <dir>/apt.conf.
  const config = path.join(dir, 'apt.conf');
  await access(config);
  return { dir, env: { APT_CONFIG: config }, warnings: r.warnings };
}

/** apt-get arguments of `install --simulate`; `noCache` makes apt parse its lists instead of reading pkgcache.bin. */
export function simulateArgs(packages: readonly string[], noCache: boolean): string[] {
  const cache = noCache ? ['-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache='] : [];
  return [...cache, 'install', '--simulate', '--yes', '--no-install-recommends', ...packages];
}

/** apt-get arguments that download exactly the locked files into the current directory. */
export function downloadArgs(packages: readonly LockedPackage[]): string[] {
  return ['download', ...packages.map((p) => `${p.name}=${p.version}`)];
}

/** How two package sets differ: by name, and by version for names in both. */
export interface SetDiff {
  ours: number;
  apt: number;
  same: number;
  onlyOurs: string[];
  onlyApt: string[];
  versionDiffers: Array<{ name: string; ours: string; apt: string }>;
}

/** Compare our resolution with apt's `Inst` lines (name and version). */
export function compareSets(ours: ReadonlyArray<{ name: string; version: string }>, apt: readonly AptInstall[]): SetDiff {
  const a = new Map(apt.map((p) => [p.name, p.version]));
  const o = new Map(ours.map((p) => [p.name, p.version]));
  const versionDiffers: SetDiff['versionDiffers'] = [];
  let same = 0;
  for (const [name, version] of o) {
    const theirs = a.get(name);
    if (theirs === undefined) continue;
    if (theirs === version) same++;
    else versionDiffers.push({ name, ours: version, apt: theirs });
  }
  return {
    ours: o.size,
    apt: a.size,
    same,
    onlyOurs: [...o.keys()].filter((n) => !a.has(n)).sort(),
    onlyApt: [...a.keys()].filter((n) => !o.has(n)).sort(),
    versionDiffers,
  };
}

/** The number of differences: names on one side only plus version mismatches. */
export function differences(d: SetDiff): number {
  return d.onlyOurs.length + d.onlyApt.length + d.versionDiffers.length;
}
