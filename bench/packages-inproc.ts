// The in-process side of the packages benchmark: load the verified metadata
// once, then time parsePackages and resolve on it, as the lock command runs them.
import path from 'node:path';
import { parsePackages } from '../src/deb/packages.js';
import { runBinary } from '../src/exec.js';
import type { PackagePlan } from '../src/packages/plan.js';
import { loadRepository } from '../src/repo/deb/repository.js';
import type { MetadataOptions, RepoMetadata } from '../src/repo/deb/types.js';
import { PackageIndex } from '../src/resolve/index.js';
import { type RepoInput, type Resolution, resolve } from '../src/resolve/resolve.js';
import { median, type Timing } from './measure.js';

/** Every repository of the plan, loaded and verified, with the resolver's view of them. */
export interface Loaded {
  metadata: RepoMetadata[];
  repos: RepoInput[];
  /** Wall-clock of loading them all (fetch, verify, decompress, parse). */
  seconds: number;
}

/** Load the plan's repositories as the lock command does (in parallel). */
export async function loadAll(plan: PackagePlan, meta: MetadataOptions): Promise<Loaded> {
  const started = performance.now();
  const metadata = await Promise.all(plan.repos.map((r) => loadRepository(r, meta)));
  const seconds = (performance.now() - started) / 1000;
  const repos = plan.repos.map((r, i) => ({
    id: r.id,
    priority: r.priority,
    allowPackages: r.allowPackages,
    packages: (metadata[i] as RepoMetadata).packages,
  }));
  return { metadata, repos, seconds };
}

/** One decompressed Packages index, as parsePackages receives it. */
export interface IndexText {
  repo: string;
  codename: string;
  component: string;
  path: string;
  text: string;
  bytes: number;
  /** Records parsePackages returned for it. */
  stanzas: number;
}

/** Decompress every verified index from the metadata store (untimed set-up for the parse timings). */
export async function indexTexts(loaded: Loaded, storeDir: string): Promise<IndexText[]> {
  const out: IndexText[] = [];
  for (const m of loaded.metadata) {
    for (const ref of m.indexes) {
      // The store keeps each verified index by its SHA256 (src/repo/deb/store.ts).
      const file = path.join(storeDir, 'by-hash', 'sha256', ref.sha256);
      if (!ref.path.endsWith('.xz')) throw new Error(`${m.spec.id}: ${ref.path} is not xz-compressed; the benchmark only reads Packages.xz`);
      const data = (await runBinary({ command: 'xz', args: ['-dc'] }, { inputFile: file, package: 'xz-utils' })).stdout;
      const text = data.toString('utf8');
      out.push({
        repo: m.spec.id,
        codename: m.spec.codename,
        component: ref.component,
        path: ref.path,
        text,
        bytes: data.length,
        stanzas: parsePackages(text, m.spec.id).length,
      });
    }
  }
  return out;
}

/** Time `fn` `runs` times in this process; the result of the last run is returned too. */
export function timeInProcess<T>(label: string, runs: number, fn: () => T, log: (s: string) => void): { timing: Timing; result: T } {
  const seconds: number[] = [];
  let result: T | undefined;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    result = fn();
    seconds.push((performance.now() - started) / 1000);
    log(`  ${label.padEnd(44)} run ${i + 1}/${runs}: ${(seconds.at(-1) ?? 0).toFixed(3)} s`);
  }
  return { timing: { label, seconds, median: median(seconds), min: Math.min(...seconds), max: Math.max(...seconds) }, result: result as T };
}

/** Parse every given index (the work behind one lock, without decompression). */
export function parseAll(texts: readonly IndexText[]): number {
  return texts.reduce((n, t) => n + parsePackages(t.text, t.repo).length, 0);
}

/** The lock command's resolution of the image packages (base: required). */
export function resolveImage(loaded: Loaded, plan: PackagePlan): Resolution {
  return resolve({ repos: loaded.repos, arch: plan.arch, packages: plan.request.packages, base: 'required' });
}

/** The names our resolver seeds the base set with (Essential or Priority: required); apt gets them on its command line. */
export function baseSeeds(loaded: Loaded, plan: PackagePlan): string[] {
  return new PackageIndex(loaded.repos, plan.arch).baseNames('required');
}
