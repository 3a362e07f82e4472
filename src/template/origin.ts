/** A place in a template file. */
export interface Loc {
  file: string;
  line: number;
  /** Field path as written in that file, e.g. `disk.partitions[0].end`. */
  path: string;
}

interface Origin {
  self: Loc;
  keys: Map<string, Loc>;
}

const origins = new WeakMap<object, Origin>();

/** `path` extended by an object key or a list index. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** Record where an object or list starts. */
export function setOrigin(obj: object, self: Loc): void {
  origins.set(obj, { self, keys: origins.get(obj)?.keys ?? new Map() });
}

/** Record where `obj[key]` was written. */
export function setKeyOrigin(obj: object, key: string | number, loc: Loc): void {
  const o = origins.get(obj);
  if (o) o.keys.set(String(key), loc);
  else origins.set(obj, { self: loc, keys: new Map([[String(key), loc]]) });
}

/**
 * Where `obj[key]` was written; for a key that is absent, the object's own
 * place with the key's path (that is where the user would add it).
 */
export function locate(obj: object | undefined, key?: string | number): Loc | undefined {
  if (obj === undefined) return undefined;
  const o = origins.get(obj);
  if (!o) return undefined;
  if (key === undefined) return o.self;
  return o.keys.get(String(key)) ?? { ...o.self, path: childPath(o.self.path, key) };
}

/** Say that `out[key]` came from `from[fromKey]`, so merged data keeps its source. */
export function inherit(out: object, key: string | number, from: object, fromKey: string | number = key): void {
  const src = origins.get(from);
  if (!src) return;
  if (!origins.has(out)) origins.set(out, { self: src.self, keys: new Map() });
  const loc = src.keys.get(String(fromKey));
  if (loc) (origins.get(out) as Origin).keys.set(String(key), loc);
}

/** For every scalar in `value`, the field path and the `file:line` it was written at (files as `show` gives them). */
export function originsOf(value: unknown, show: (file: string) => string = (f) => f): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (parent: object, key: string | number, v: unknown, at: string) => {
    if (v !== null && typeof v === 'object') walk(v, at);
    else {
      const loc = locate(parent, key);
      if (loc) out[at] = `${show(loc.file)}:${loc.line}`;
    }
  };
  const walk = (v: object, at: string) => {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) visit(v, i, x, childPath(at, i));
    } else for (const [k, x] of Object.entries(v)) if (x !== undefined) visit(v, k, x, childPath(at, k));
  };
  if (value !== null && typeof value === 'object') walk(value, '');
  return out;
}
