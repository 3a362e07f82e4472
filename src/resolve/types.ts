// The resolver's inputs and output. Records come from parsed Packages indexes;
// the resolver never reads files or the network.
import type { PackageRecord } from '../deb/types.js';

/** One repository's records as the resolver sees them. */
export interface RepoInput {
  id: string;
  /** Higher wins over version; apt's default pin priority is 500. */
  priority: number;
  /** When set, only these package names may come from this repository. */
  allowPackages?: string[];
  packages: PackageRecord[];
}

/** What to resolve: package requests against repositories for one native architecture. */
export interface ResolveRequest {
  repos: RepoInput[];
  /** Native architecture, e.g. amd64; `all` is always allowed too. */
  arch: string;
  /** Names, `name=version`, or `name (>= 1.2)`. */
  packages: string[];
  /** Which packages a bootstrap installs before the request. */
  base: 'none' | 'essential' | 'required';
}

/** A dependency edge the resolver chose: `from` needs `to`. */
export interface ResolvedEdge {
  from: string;
  to: string;
  kind: 'depends' | 'pre-depends';
}

/** The chosen package set and how it hangs together. */
export interface Resolution {
  /** The chroot base set: Essential (and Priority: required when asked) packages and their closure, sorted by name. */
  base: PackageRecord[];
  /** Every selected package, base included, sorted by name. */
  packages: PackageRecord[];
  /** The package chosen for each request, in request order (a virtual request names its provider). */
  requested: string[];
  /** Package names, dependencies before dependents; a cycle's members sit together, sorted by name. */
  installOrder: string[];
  /** Chosen Depends and Pre-Depends edges, sorted. */
  edges: ResolvedEdge[];
  warnings: string[];
}
