// Builders for resolver tests: package records from relation strings, small repositories.
import { expect } from 'vitest';
import { parseRelationList, parseRelations } from '../../src/deb/relations.js';
import type { PackageRecord } from '../../src/deb/types.js';
import { ResolveError } from '../../src/resolve/errors.js';
import { type RepoInput, type Resolution, type ResolveRequest, resolve } from '../../src/resolve/resolve.js';

export interface PkgSpec {
  name: string;
  version?: string;
  arch?: string;
  depends?: string;
  preDepends?: string;
  provides?: string;
  conflicts?: string;
  breaks?: string;
  essential?: boolean;
  priority?: string;
  multiArch?: string;
  repository?: string;
}

/** A package record from relation strings in control-file syntax. */
export function pkg(s: PkgSpec): PackageRecord {
  const version = s.version ?? '1.0';
  const arch = s.arch ?? 'amd64';
  return {
    name: s.name,
    version,
    architecture: arch,
    ...(s.multiArch ? { multiArch: s.multiArch } : {}),
    essential: s.essential ?? false,
    ...(s.priority ? { priority: s.priority } : {}),
    depends: parseRelations(s.depends ?? ''),
    preDepends: parseRelations(s.preDepends ?? '', 'Pre-Depends'),
    provides: parseRelationList(s.provides ?? ''),
    conflicts: parseRelationList(s.conflicts ?? '', 'Conflicts'),
    breaks: parseRelationList(s.breaks ?? '', 'Breaks'),
    filename: `pool/main/${s.name[0]}/${s.name}/${s.name}_${version.replace(/^\d+:/, '')}_${arch}.deb`,
    size: 1000,
    sha256: '0'.repeat(64),
    repository: s.repository ?? 'main',
  };
}

/** A repository of default priority 500. */
export function repo(id: string, packages: PkgSpec[], extra: Partial<RepoInput> = {}): RepoInput {
  return { id, priority: 500, packages: packages.map((p) => pkg({ repository: id, ...p })), ...extra };
}

/** Resolve `packages` against one repository of `specs` (amd64, no base set unless given). */
export function resolveIn(specs: PkgSpec[], packages: string[], extra: Partial<ResolveRequest> = {}): Resolution {
  return resolve({ repos: [repo('main', specs)], arch: 'amd64', packages, base: 'none', ...extra });
}

/** name=version for each record, for compact assertions. */
export function picked(res: Resolution): string[] {
  return res.packages.map((p) => `${p.name}=${p.version}`);
}

/** The ResolveError `fn` throws. */
export function resolveError(fn: () => unknown): ResolveError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ResolveError);
    return err as ResolveError;
  }
  throw new Error('expected a ResolveError');
}
