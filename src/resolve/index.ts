// Records indexed once by name and by provided (virtual) name, so each lookup
// during the closure is a map access even against ~65,000 records. The index
// (a RecordCatalog) is built once per set of repositories and shared by every
// resolve over them (the image, the tools): each is ~20 MB for Debian main.
import type { PackageRecord, Relation } from '../deb/types.js';
import { compareVersions } from '../deb/version.js';
import { InternalError } from '../errors.js';
import type { RepoInput } from './types.js';
import { byCodeUnit as cmp } from '../text/order.js';

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

/** The usable records of some repositories for one native architecture, indexed; never changed once built. */
export class RecordCatalog {
  private readonly byName = new Map<string, Entry[]>();
  private readonly providerNames = new Map<string, string[]>();
  private readonly rejected = new Map<string, Rejected>();
  // The best record of each name asked for: a pure function of the records, so shared too.
  private readonly best = new Map<string, PackageRecord | undefined>();

  constructor(
    readonly repos: readonly RepoInput[],
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

  /** The best record of a name by repository priority and version, or undefined. */
  candidate(name: string): PackageRecord | undefined {
    if (this.best.has(name)) return this.best.get(name);
    let best: Entry | undefined;
    for (const e of this.byName.get(name) ?? []) if (!best || better(e, best, this.arch) < 0) best = e;
    this.best.set(name, best?.rec);
    return best?.rec;
  }

  /** Every usable record of a name, best first. */
  versions(name: string): PackageRecord[] {
    return [...(this.byName.get(name) ?? [])].sort((a, b) => better(a, b, this.arch)).map((e) => e.rec);
  }

  /** Names of the records that provide `virtual`, sorted. */
  providerNamesOf(virtual: string): readonly string[] {
    return this.providerNames.get(virtual) ?? [];
  }

  has(name: string): boolean {
    return this.byName.has(name) || this.providerNames.has(name);
  }

  names(): string[] {
    return [...new Set([...this.byName.keys(), ...this.providerNames.keys()])];
  }

  /** Names that have some record of the base level (Essential, or Priority: required for 'required'), in index order. */
  baseCandidates(level: 'essential' | 'required'): string[] {
    const out: string[] = [];
    // Only a name with some such record can have such a candidate: the rest need no candidate worked out.
    for (const [name, list] of this.byName) if (list.some((e) => e.rec.essential || (level === 'required' && e.rec.priority === 'required'))) out.push(name);
    return out;
  }

  whyUnusable(name: string): string | undefined {
    const r = this.rejected.get(name);
    if (!r || this.byName.has(name)) return undefined;
    if (r.deniedBy.size) return `only in ${[...r.deniedBy].sort(cmp).join(', ')}, whose allowPackages leaves it out`;
    return `only for ${[...r.archs].sort(cmp).join(', ')}, not ${this.arch}`;
  }
}

/** The records one resolve sees: a catalog (its own, or one shared with other resolves) and that resolve's pins. */
export class PackageIndex {
  private readonly catalog: RecordCatalog;
  private readonly pins = new Map<string, PackageRecord>();

  constructor(
    repos: readonly RepoInput[],
    readonly arch: string,
    shared?: RecordCatalog,
  ) {
    if (shared && (shared.repos !== repos || shared.arch !== arch)) {
      throw new InternalError(`a record catalog built for other repositories or architecture (${shared.arch}) used to resolve for ${arch}`);
    }
    this.catalog = shared ?? new RecordCatalog(repos, arch);
  }

  /** The record a name installs as: a pinned record, else the best by repository priority and version. */
  candidate(name: string): PackageRecord | undefined {
    return this.pins.get(name) ?? this.catalog.candidate(name);
  }

  /** Every usable record of a name, best first. */
  versions(name: string): PackageRecord[] {
    return this.catalog.versions(name);
  }

  /** Make `rec` the candidate of its name (a request such as `name=version`). */
  pin(rec: PackageRecord): void {
    this.pins.set(rec.name, rec);
  }

  /** Candidates that provide `virtual`, by package name. */
  providers(virtual: string): Provider[] {
    const out: Provider[] = [];
    for (const name of this.catalog.providerNamesOf(virtual)) {
      const rec = this.candidate(name);
      for (const p of rec?.provides ?? []) if (p.name === virtual && rec) out.push({ rec, provides: p });
    }
    return out;
  }

  /** Whether a name is known at all: a usable record or a provider. */
  has(name: string): boolean {
    return this.catalog.has(name);
  }

  /** Every name with a usable record or provider, for suggestions. */
  names(): string[] {
    return this.catalog.names();
  }

  /** Names whose candidate is Essential (and, for 'required', also Priority: required), sorted. */
  baseNames(level: 'essential' | 'required'): string[] {
    const out: string[] = [];
    for (const name of this.catalog.baseCandidates(level)) {
      const rec = this.candidate(name);
      if (rec && (rec.essential || (level === 'required' && rec.priority === 'required'))) out.push(name);
    }
    return out.sort(cmp);
  }

  /** Why a name has no candidate, when records of it exist but are unusable. */
  whyUnusable(name: string): string | undefined {
    return this.catalog.whyUnusable(name);
  }
}
