// Graphviz files of a lock: the chroot base set (`chrootpkgs.dot`) and the
// image set (`<target>.dot`), in the provider's package cache directory.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import { ignoreNotFound } from '../fs/safe.js';
import type { LockedSet } from '../lock/types.js';

/** A Graphviz digraph of `set`, limited to `only` when given; requested names are highlighted. */
export function lockDot(name: string, set: LockedSet, only?: ReadonlySet<string>): string {
  const q = (s: string) => JSON.stringify(s);
  const keep = (n: string) => only === undefined || only.has(n);
  const requested = new Set(set.requested.map((r) => r.split(/[=\s(]/)[0] ?? r));
  const pkgs = set.packages.filter((p) => keep(p.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines = [`digraph ${q(name)} {`, '  rankdir=LR;', '  node [shape=box, fontsize=10];'];
  for (const p of pkgs)
    lines.push(`  ${q(p.name)} [label=${q(`${p.name}\n${p.version}`)}${requested.has(p.name) ? ', style=filled, fillcolor=lightblue' : ''}];`);
  for (const p of pkgs) for (const d of p.depends ?? []) if (keep(d)) lines.push(`  ${q(p.name)} -> ${q(d)};`);
  lines.push('}', '');
  return lines.join('\n');
}

/** Write `text` unless the file already holds it (warm cache runs rewrite nothing). */
async function writeIfChanged(file: string, text: string): Promise<void> {
  // Only "not there yet" means "write it"; a file we cannot read is reported.
  if ((await ignoreNotFound(readFile(file, 'utf8'))) === text) return;
  await writeFileAtomic(file, text);
}

/** Write both graphs of a target's lock; returns their paths. */
export async function writeGraphs(t: { pkgDir: string; target: { name: string } }, l: { lock: { image: LockedSet } }): Promise<string[]> {
  const image = l.lock.image;
  const chroot = path.join(t.pkgDir, 'chrootpkgs.dot');
  const target = path.join(t.pkgDir, `${t.target.name}.dot`);
  await writeIfChanged(chroot, lockDot('chrootpkgs', image, new Set(image.baseSet)));
  await writeIfChanged(target, lockDot(t.target.name, image));
  return [chroot, target];
}
