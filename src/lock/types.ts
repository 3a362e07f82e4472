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
  /**
   * An overlay build (baseline.mode overlay): the image it builds on, pinned by
   * SHA256 and size, and the packages its dpkg database lists. `image` then holds
   * only what the overlay installs (added, or upgraded with additive-and-upgrade).
   */
  baseline?: LockedBaseline;
  /**
   * An overlay: the Essential set and apt, resolved from the repositories, that the
   * composer's base image is made of (a build from scratch takes them from `image`).
   */
  composerBase?: LockedSet;
}

/** A package the baseline image has installed (its dpkg database). */
export interface BaselinePackage {
  name: string;
  version: string;
  architecture: string;
}

export interface LockedBaseline {
  source: { path: string } | { url: string };
  format: string;
  sha256: string;
  size: number;
  packages: BaselinePackage[];
  /** conflictPolicy allow-explicit: baseline packages the overlay removes, each with the package it named that conflicts with it. */
  removed?: Array<{ name: string; by: string }>;
}

/** The parts of a template (and target) that decide the resolution. */
export interface LockRequest {
  providerId: string;
  arch: string;
  repositories: Array<{ id: string; codename: string; components: string[]; priority: number; allowPackages?: string[]; trusted: boolean }>;
  packages: string[];
  tools: string[];
  /** An overlay build: the baseline named by the template and how its packages may change. */
  baseline?: { source: { path: string } | { url: string }; format: string; packageOperation: string; conflictPolicy: string };
}
