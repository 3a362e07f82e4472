// Equal values of one Packages index, shared instead of repeated. Debian main
// has ~69,000 stanzas with ~400,000 relations but only ~140,000 distinct ones
// (`libc6 (>= 2.34)` thousands of times), and a handful of architectures,
// sections and priorities: one object or string for each distinct value keeps
// the parsed records about half the size. Shared values are never mutated.
import type { Clause, Relation, RelOp } from './types.js';

/**
 * A string of its own: a substring of a longer string may keep that whole
 * string (a field value) alive in V8, so what outlives the parse is copied once.
 */
function ownCopy(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** The shared values of one index; dropped (clear()) when the index is parsed. */
export class Interner {
  private readonly texts = new Map<string, string>();
  private readonly relations = new Map<string, Relation>();
  private readonly singles = new Map<Relation, Clause>();

  /**
   * The one copy of a string (a name, version, architecture, section, ...);
   * `standalone` when `s` is no part of a longer string (decoded on its own), so it need not be copied.
   */
  text(s: string, standalone = false): string {
    let t = this.texts.get(s);
    if (t === undefined) {
      t = standalone ? s : ownCopy(s);
      this.texts.set(t, t);
    }
    return t;
  }

  /**
   * The one relation written as `key` (the text from the name to the end of the
   * version constraint, which alone decides the parsed fields).
   */
  relation(key: string, name: string, archQualifier: string | undefined, op: RelOp | undefined, version: string | undefined): Relation {
    const known = this.relations.get(key);
    if (known) return known;
    const n = this.text(name);
    const v = version === undefined ? undefined : this.text(version);
    const a = archQualifier === undefined ? undefined : this.text(archQualifier);
    // One literal per shape, as the parser makes them.
    let rel: Relation;
    if (a === undefined) rel = op ? { name: n, op, version: v } : { name: n };
    else rel = op ? { name: n, archQualifier: a, op, version: v } : { name: n, archQualifier: a };
    // The key may keep its field's text alive, but only until clear().
    this.relations.set(key, rel);
    return rel;
  }

  /** The one clause whose only alternative is `rel` (most clauses have one). */
  single(rel: Relation): Clause {
    let c = this.singles.get(rel);
    if (!c) {
      c = [rel];
      this.singles.set(rel, c);
    }
    return c;
  }

  /** Forget every value (those already handed out stay valid). */
  clear(): void {
    this.texts.clear();
    this.relations.clear();
    this.singles.clear();
  }
}
