// Records indexed once by name and by provided (virtual) name, so each lookup
// during the closure is a map access even against ~65,000 records.
import type { PackageRecord, Relation } from '../deb/types.js';
import { compareVersions } from '../deb/version.js';
import type { RepoInput } from './types.js';

interface Entry {
  rec: PackageRecord;
  priority: number;
  repoIndex: number;
}

/** A record that provides a virtual name, with the Provides entry that does it. */
export interface Provider {
  rec: PackageRecord;
  provides: Relation;
}

// Why a name has no usable record, kept only for names that had some record.
interface Rejected {
  archs: Set<string>;
  deniedBy: Set<string>;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// apt's order: pin priority, then version; the rest only makes ties (and shuffled input) deterministic.
function better(a: Entry, b: Entry, arch: string): number {
  return (
    b.priority - a.priority ||
    compareVersions(b.rec.version, a.rec.version) ||
    a.repoIndex - b.repoIndex ||
    Number(a.rec.architecture !== arch) - Number(b.rec.architecture !== arch) ||
    cmp(a.rec.filename, b.rec.filename) ||
    cmp(a.rec.sha256, b.rec.sha256)
  );
}

/** The usable records of some repositories for one native architecture. */
export class PackageIndex {
  private readonly byName = new Map<string, Entry[]>();
  private readonly providerNames = new Map<string, string[]>();
  private readonly rejected = new Map<string, Rejected>();
  private readonly candidates = new Map<string, PackageRecord | undefined>();
  private readonly pins = new Map<string, PackageRecord>();

  constructor(
    repos: readonly RepoInput[],
    readonly arch: string,
  ) {
    repos.forEach((repo, repoIndex) => {
      const allow = repo.allowPackages ? new Set(repo.allowPackages) : undefined;
      for (const rec of repo.packages) {
        const archOk = rec.architecture === arch || rec.architecture === 'all';
        if (!archOk || (allow && !allow.has(rec.name))) {
          this.reject(rec, archOk ? undefined : rec.architecture, archOk ? repo.id : undefined);
          continue;
        }
        const list = this.byName.get(rec.name);
        const entry = { rec, priority: repo.priority, repoIndex };
        if (list) list.push(entry);
        else this.byName.set(rec.name, [entry]);
        for (const p of rec.provides) {
          const names = this.providerNames.get(p.name);
          if (!names) this.providerNames.set(p.name, [rec.name]);
          else if (!names.includes(rec.name)) names.push(rec.name);
        }
      }
    });
    for (const names of this.providerNames.values()) names.sort(cmp);
  }

  private reject(rec: PackageRecord, arch: string | undefined, deniedBy: string | undefined): void {
    const r = this.rejected.get(rec.name) ?? { archs: new Set<string>(), deniedBy: new Set<string>() };
    this.rejected.set(rec.name, r);
    if (arch) r.archs.add(arch);
    if (deniedBy) r.deniedBy.add(deniedBy);
  }

  /** The record a name installs as: a pinned record, else the best by repository priority and version. */
  candidate(name: string): PackageRecord | undefined {
    const pinned = this.pins.get(name);
    if (pinned) return pinned;
    if (this.candidates.has(name)) return this.candidates.get(name);
    let best: Entry | undefined;
    for (const e of this.byName.get(name) ?? []) if (!best || better(e, best, this.arch) < 0) best = e;
    this.candidates.set(name, best?.rec);
    return best?.rec;
  }

  /** Every usable record of a name, best first. */
  versions(name: string): PackageRecord[] {
    return [...(this.byName.get(name) ?? [])].sort((a, b) => better(a, b, this.arch)).map((e) => e.rec);
  }

  /** Make `rec` the candidate of its name (a request such as `name=version`). */
  pin(rec: PackageRecord): void {
    this.pins.set(rec.name, rec);
  }

  /** Candidates that provide `virtual`, by package name. */
  providers(virtual: string): Provider[] {
    const out: Provider[] = [];
    for (const name of this.providerNames.get(virtual) ?? []) {
      const rec = this.candidate(name);
      for (const p of rec?.provides ?? []) if (p.name === virtual && rec) out.push({ rec, provides: p });
    }
    return out;
  }

  /** Whether a name is known at all: a usable record or a provider. */
  has(name: string): boolean {
    return this.byName.has(name) || this.providerNames.has(name);
  }

  /** Every name with a usable record or provider, for suggestions. */
  names(): string[] {
    return [...new Set([...this.byName.keys(), ...this.providerNames.keys()])];
  }

  /** Names whose candidate is Essential (and, for 'required', also Priority: required), sorted. */
  baseNames(level: 'essential' | 'required'): string[] {
    const out: string[] = [];
    for (const name of this.byName.keys()) {
      const rec = this.candidate(name);
      if (rec && (rec.essential || (level === 'required' && rec.priority === 'required'))) out.push(name);
    }
    return out.sort(cmp);
  }

  /** Why a name has no candidate, when records of it exist but are unusable. */
  whyUnusable(name: string): string | undefined {
    const r = this.rejected.get(name);
    if (!r || this.byName.has(name)) return undefined;
    if (r.deniedBy.size) return `only in ${[...r.deniedBy].sort(cmp).join(', ')}, whose allowPackages leaves it out`;
    return `only for ${[...r.archs].sort(cmp).join(', ')}, not ${this.arch}`;
  }
}
