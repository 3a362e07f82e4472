// Debian package metadata as the resolver and the lock file see it.

/** A relation operator of Depends, Breaks, ... (dpkg's spelling). */
export type RelOp = '<<' | '<=' | '=' | '>=' | '>>';

/** One package name in a relation field, with an optional version constraint. */
export interface Relation {
  name: string;
  /** `:any`, `:native` or an architecture qualifier, when given. */
  archQualifier?: string;
  op?: RelOp;
  version?: string;
}

/** `a | b (>= 2)`: any one alternative satisfies the clause. */
export type Clause = Relation[];

/** One stanza of a Packages index, reduced to what we use. */
export interface PackageRecord {
  name: string;
  version: string;
  /** A native architecture such as amd64, or `all`. */
  architecture: string;
  multiArch?: string;
  essential: boolean;
  /** required, important, standard, optional, extra. */
  priority?: string;
  source?: string;
  section?: string;
  depends: Clause[];
  preDepends: Clause[];
  /** Each a name with an optional `= version`. */
  provides: Relation[];
  conflicts: Relation[];
  breaks: Relation[];
  /** Pool path relative to the repository URL. */
  filename: string;
  size: number;
  sha256: string;
  /** Id of the repository the record came from. */
  repository: string;
}
