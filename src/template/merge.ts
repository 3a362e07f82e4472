// Merging a user template over the default template of its provider, the way
// OS Image Composer does: the user states only what differs. Each merged
// value keeps the file and line it came from (origin.ts).
import { bootloaderPackages } from './bootloader.js';
import { inherit, locate, setKeyOrigin, setOrigin } from './origin.js';
import { overlayMerge } from './overlay/merge.js';
import type { ImageTemplate, RepoTemplate, SystemConfigTemplate } from './types.js';

type Obj = Record<string, unknown>;
/** How two values present on both sides combine; keys without a rule take the user's value. */
type Rules = Readonly<Record<string, (base: never, user: never) => unknown>>;

/** The user template over the default one. Inputs are not changed; the result may share parts with them. */
export function mergeTemplates(base: ImageTemplate, user: ImageTemplate): ImageTemplate {
  return overlay(base, user, {
    image: (b: Obj, u: Obj) => overlay(b, u),
    target: (b: Obj, u: Obj) => overlay(b, u),
    // A disk layout is a whole: mixing two partition tables makes no sense.
    disk: (_b: unknown, u: unknown) => u,
    packageRepositories: (b: RepoTemplate[], u: RepoTemplate[]) =>
      mergeBy(
        b,
        u,
        (r) => `${r.codename} ${r.url}`,
        (_x, y) => y,
      ),
    systemConfig: (b: SystemConfigTemplate, u: SystemConfigTemplate) => mergeSystemConfig(b, u),
    metadata: (b: Obj, u: Obj) => overlay(b, u),
  });
}

/** An extends chain folded, root first: each template over its parent, with the same rules; `extends` itself is resolved away. */
export function mergeChain(templates: readonly ImageTemplate[]): ImageTemplate {
  const [root, ...rest] = templates;
  // The root extends nothing, so alone it is the whole chain.
  if (!root || rest.length === 0) return root ?? {};
  const merged = rest.reduce((parent, child) => mergeTemplates(parent, child), root);
  // A new object made by the merge: removing the key leaves the inputs unchanged.
  delete merged.extends;
  return merged;
}

/**
 * The user template over the default template of its provider, with the
 * packages of the bootloader the merged template names. They come right after
 * the default's packages (where a default template used to list them), each
 * located at the bootloader's provider line.
 */
export function mergeOverDefaults(defaults: ImageTemplate, user: ImageTemplate): ImageTemplate {
  const merged = mergeTemplates(defaults, user);
  // An overlay adds only what the user's templates state to the baseline (overlay.ts).
  if (user.baseline?.mode === 'overlay') return overlayMerge(merged, user);
  const sys = merged.systemConfig;
  const loader = bootloaderPackages(merged.target?.arch, sys?.bootloader?.provider);
  if (!sys || loader.length === 0) return merged;
  const where = locate(sys.bootloader, 'provider');
  if (where) for (let i = 0; i < loader.length; i++) setKeyOrigin(loader, i, where);
  const packages = unique(concat(concat(defaults.systemConfig?.packages ?? [], loader), user.systemConfig?.packages ?? []));
  // A copy: merged.systemConfig may be one of the inputs, which stay unchanged.
  merged.systemConfig = overlay(sys, { packages } as SystemConfigTemplate);
  inherit(merged.systemConfig, 'packages', sys);
  return merged;
}

function mergeSystemConfig(base: SystemConfigTemplate, user: SystemConfigTemplate): SystemConfigTemplate {
  return overlay(base, user, {
    bootloader: (b: Obj, u: Obj) => overlay(b, u),
    immutability: (b: Obj, u: Obj) => overlay(b, u),
    packages: (b: string[], u: string[]) => unique(concat(b, u)),
    additionalFiles: (b: Obj[], u: Obj[]) =>
      mergeBy(
        b,
        u,
        (f) => f.final as string | undefined,
        (_x, y) => y,
      ),
    configurations: (b: unknown[], u: unknown[]) => concat(b, u),
    users: (b: Obj[], u: Obj[]) =>
      mergeBy(
        b,
        u,
        (x) => x.name as string | undefined,
        (x, y) => overlay(x, y),
      ),
    kernel: (b: Obj, u: Obj) => overlay(b, u, { packages: (x: string[], y: string[]) => unique(concat(x, y)) }),
  });
}

/** Keys of both; where both have a value, `rules` combine them, else the user's wins. */
function overlay<T extends object>(base: T, user: T, rules: Rules = {}): T {
  const b = base as Obj;
  const u = user as Obj;
  const out: Obj = {};
  const self = locate(user) ?? locate(base);
  if (self) setOrigin(out, self);
  for (const key of new Set([...Object.keys(b), ...Object.keys(u)])) {
    const [bv, uv] = [b[key], u[key]];
    if (uv === undefined && bv === undefined) continue;
    const rule = rules[key] as ((x: unknown, y: unknown) => unknown) | undefined;
    if (uv === undefined) out[key] = bv;
    else out[key] = rule && bv !== undefined ? rule(bv, uv) : uv;
    inherit(out, key, uv === undefined ? b : u);
  }
  return out as T;
}

/** Both lists in order, each item keeping its origin. */
function concat<T>(base: T[], user: T[]): T[] {
  const out: T[] = [];
  const self = locate(user) ?? locate(base);
  if (self) setOrigin(out, self);
  for (const list of [base, user]) {
    list.forEach((item, i) => {
      inherit(out, out.length, list, i);
      out.push(item);
    });
  }
  return out;
}

/** Without repeats, first occurrence kept (with its origin). */
function unique<T>(list: T[]): T[] {
  const out: T[] = [];
  const self = locate(list);
  if (self) setOrigin(out, self);
  const seen = new Set<T>();
  list.forEach((item, i) => {
    if (seen.has(item)) return;
    seen.add(item);
    inherit(out, out.length, list, i);
    out.push(item);
  });
  return out;
}

/**
 * Base items in order, where a user item with the same key replaces (or is
 * combined with) the base one in place; other user items are appended.
 */
function mergeBy<T>(base: T[], user: T[], keyOf: (x: T) => string | undefined, combine: (b: T, u: T) => T): T[] {
  const out = concat(base, []);
  const at = new Map<string, number>();
  base.forEach((item, i) => {
    const k = keyOf(item);
    if (k !== undefined && !at.has(k)) at.set(k, i);
  });
  user.forEach((item, i) => {
    const k = keyOf(item);
    const pos = k === undefined ? undefined : at.get(k);
    if (pos === undefined) {
      inherit(out, out.length, user, i);
      out.push(item);
    } else {
      out[pos] = combine(out[pos] as T, item);
      inherit(out, pos, user, i);
    }
  });
  return out;
}
