// The packages chosen so far, indexed for "is this relation already met?", and
// who pulled each one in (for error chains).
import type { PackageRecord, Relation } from '../deb/types.js';
import { preferredProvider, provideSatisfies, realSatisfies } from './candidates.js';
import type { Provider } from './index.js';

/** Selected packages by name and by provided name. */
export class Selection {
  private readonly byName = new Map<string, PackageRecord>();
  private readonly provided = new Map<string, Provider[]>();
  private readonly parents = new Map<string, string | undefined>();

  constructor(readonly arch: string) {}

  /** Select `rec`; `parent` is the package whose dependency pulled it in. False when its name was already selected. */
  add(rec: PackageRecord, parent?: string): boolean {
    if (this.byName.has(rec.name)) return false;
    this.byName.set(rec.name, rec);
    this.parents.set(rec.name, parent);
    for (const p of rec.provides) {
      const list = this.provided.get(p.name);
      if (list) list.push({ rec, provides: p });
      else this.provided.set(p.name, [{ rec, provides: p }]);
    }
    return true;
  }

  /** The selected record of a name. */
  get(name: string): PackageRecord | undefined {
    return this.byName.get(name);
  }

  /** The selected package meeting `rel`: the real package first, else the preferred provider. */
  satisfier(rel: Relation): PackageRecord | undefined {
    const real = this.byName.get(rel.name);
    if (real && realSatisfies(real, rel, this.arch)) return real;
    const providers = this.provided.get(rel.name);
    if (!providers) return undefined;
    return preferredProvider(providers.filter((p) => provideSatisfies(p, rel, this.arch)).map((p) => p.rec));
  }

  /** Selected packages that provide `name`. */
  providersOf(name: string): readonly Provider[] {
    return this.provided.get(name) ?? [];
  }

  /** Names from the root (a requested or base package) down to `name`. */
  chain(name: string): string[] {
    const out = [name];
    for (let p = this.parents.get(name); p !== undefined && out.length <= this.parents.size; p = this.parents.get(p)) out.unshift(p);
    return out;
  }

  /** Every selected record, sorted by name. */
  records(): PackageRecord[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    return this.byName.size;
  }
}
