// The lock file: exactly which signed metadata and which packages a target uses.

export const LOCK_VERSION = 1;

/** One repository and the digests of the metadata the resolution used. */
export interface LockedRepository {
  id: string;
  url: string;
  codename: string;
  components: string[];
  priority: number;
  allowPackages?: string[];
  trusted: boolean;
  release: { sha256: string; size: number; date?: string; validUntil?: string; signedBy?: string };
  indexes: Array<{ component: string; arch: string; path: string; sha256: string; size: number }>;
}

/** One package, enough to fetch and verify it without any metadata. */
export interface LockedPackage {
  name: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string;
  repository: string;
  /** The chosen packages that satisfy its Depends and Pre-Depends (for graphs and install order). */
  depends?: string[];
}

/** A resolved set: the image's packages, or the composer image's tools. */
export interface LockedSet {
  requested: string[];
  base: 'none' | 'essential' | 'required';
  /** Names of the base (chroot) set, sorted. */
  baseSet: string[];
  packages: LockedPackage[];
  installOrder: string[];
}

export interface LockFile {
  lockVersion: number;
  target: string;
  providerId: string;
  arch: string;
  /** Digest of what the template asks for; a different one means the lock is out of date. */
  requestDigest: string;
  /** What the digest covers, kept readable so a mismatch can be explained. */
  request: LockRequest;
  repositories: LockedRepository[];
  image: LockedSet;
  tools: LockedSet;
}

/** The parts of a template (and target) that decide the resolution. */
export interface LockRequest {
  providerId: string;
  arch: string;
  repositories: Array<{ id: string; codename: string; components: string[]; priority: number; allowPackages?: string[]; trusted: boolean }>;
  packages: string[];
  tools: string[];
}
