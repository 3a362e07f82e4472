// Types of the Debian repository metadata layer: what to load, how, and what comes back.
import type { FetchSettings } from '../../net/fetch.js';
import type { PackageRecord } from '../../deb/types.js';
import type { Emit } from '../../log/events.js';

/** One apt source: a repository URL, a suite and the keys that sign it. */
export interface RepoSpec {
  /** Stable id, e.g. 'trixie-security' or a slug of url+codename; names the stored state. */
  id: string;
  url: string;
  codename: string;
  components: string[];
  /** Native architectures, e.g. ['amd64']; Architecture: all records live inside binary-<native>. */
  archs: string[];
  /** Absolute paths; binary (.gpg) or armored (.asc) keyrings. */
  keyrings: string[];
  /** Accept unsigned or badly signed metadata, with a warning. */
  trusted: boolean;
}

/** How to load: where the store lives, whether the network may be used, and the clock. */
export interface MetadataOptions {
  /** e.g. <cache_dir>/repoCache */
  storeDir: string;
  offline: boolean;
  ignoreValidUntil: boolean;
  now?: () => Date;
  fetch: FetchSettings;
  /** Largest unpacked Packages index, whatever the signed Release states (default 256 MiB). */
  maxIndexBytes?: number;
  emit: Emit;
}

/** A Packages index as the signed Release names it. */
export interface IndexRef {
  component: string;
  arch: string;
  /** Relative to dists/<codename>/, e.g. main/binary-amd64/Packages.xz */
  path: string;
  sha256: string;
  size: number;
}

/** Facts about the verified Release file. */
export interface ReleaseSummary {
  /** Of the signed file as fetched (InRelease, or Release when detached). */
  sha256: string;
  size: number;
  date?: string;
  validUntil?: string;
  /** Primary key fingerprint from VALIDSIG; absent when accepted unsigned (trusted). */
  signedBy?: string;
  suite?: string;
  codename?: string;
}

/** An index stanza left out because its identity breaks Debian policy or its Filename could leave the package cache. */
export interface RefusedPackage {
  /** As written: untrusted, escape before printing. */
  name: string;
  /** The index, relative to dists/<codename>/. */
  index: string;
  /** Line where the stanza starts in the unpacked index. */
  line: number;
  problem: string;
}

/** Everything loaded for one repository. */
export interface RepoMetadata {
  spec: RepoSpec;
  release: ReleaseSummary;
  indexes: IndexRef[];
  packages: PackageRecord[];
  /** Stanzas left out (each also reported in a warning). */
  refused?: RefusedPackage[];
  /** True when read from the last verified state without the network (offline). */
  fromCache: boolean;
}

/** The digest a lock file pins for one repository. */
export interface RepoPin {
  releaseSha256: string;
  indexes: IndexRef[];
}

/** How a Release file was signed, and where the pieces are in the store. */
export interface SignedRelease {
  kind: 'inline' | 'detached';
  sha256: string;
  size: number;
  /** The detached Release.gpg, when kind is 'detached'. */
  signature?: { sha256: string; size: number };
}

/** `<storeDir>/suites/<id>.json`: the last state verified online. */
export interface SuiteState {
  version: 1;
  url: string;
  codename: string;
  release: SignedRelease;
  indexes: IndexRef[];
  /** ISO time of the verification. */
  verifiedAt: string;
}
