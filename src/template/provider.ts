// Which OS/dist/arch combinations we can build, and how their names map to
// Debian's.
import type { ImageTemplate } from './types.js';

/** A supported `{os}-{dist}-{arch}` with the Debian names behind it. */
export interface Provider {
  os: string;
  dist: string;
  arch: string;
  /** Debian release codename, e.g. `trixie`. */
  codename: string;
}

export const PROVIDERS: readonly Provider[] = [
  { os: 'debian', dist: 'debian12', arch: 'x86_64', codename: 'bookworm' },
  { os: 'debian', dist: 'debian13', arch: 'x86_64', codename: 'trixie' },
  { os: 'debian', dist: 'debian13', arch: 'aarch64', codename: 'trixie' },
];

export const IMAGE_TYPES: readonly string[] = ['raw', 'img', 'iso'];

// Template architecture names (kernel style) to Debian architecture names.
const DEBIAN_ARCH: Readonly<Record<string, string>> = { x86_64: 'amd64', aarch64: 'arm64' };

/** `{os}-{dist}-{arch}`, e.g. `debian-debian13-x86_64`: names the package cache of a target. */
export function providerId(t: ImageTemplate): string {
  const { os = '', dist = '', arch = '' } = t.target ?? {};
  return `${os}-${dist}-${arch}`;
}

/** The Debian architecture for a template arch (`x86_64` → `amd64`, `aarch64` → `arm64`), or undefined when unknown. */
export function debianArch(arch: string | undefined): string | undefined {
  return arch === undefined ? undefined : DEBIAN_ARCH[arch];
}

/** The supported provider a template targets, or undefined. */
export function findProvider(t: ImageTemplate): Provider | undefined {
  const id = providerId(t);
  return PROVIDERS.find((p) => `${p.os}-${p.dist}-${p.arch}` === id);
}

/** Supported provider ids, for messages. */
export function supportedProviders(): string[] {
  return PROVIDERS.map((p) => `${p.os}-${p.dist}-${p.arch}`);
}

/** The Docker platform of a Debian architecture (Docker uses Debian's names for these): `linux/arm64`. */
export function dockerPlatform(debArch: string): string {
  return `linux/${debArch}`;
}

// Node's names for the architectures a build host may have, as Debian names them.
const NODE_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };

/** The Debian architecture of the machine running the toolkit (`amd64` on x86_64), or undefined when it is none we know. */
export function hostDebianArch(nodeArch: string = process.arch): string | undefined {
  return NODE_ARCH[nodeArch];
}
