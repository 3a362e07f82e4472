// The keys an image template may have and the kind of value each holds.
// Loading walks this tree: a key not named here is an error naming the nearest
// known key, so a typo never changes an image silently. Keys of OS Image
// Composer's format that g3-composer does not implement are errors when their
// value would change the image, and warnings when it is a no-op.

/**
 * string: a scalar (numbers keep their written form, `6.10` stays "6.10");
 * size: a string or number, see size.ts; url: a string with ${var} expanded;
 * words: a list of strings, or one string of space- or comma-separated words;
 * free: any mapping, kept as plain data.
 */
export type Kind = 'string' | 'size' | 'bool' | 'int' | 'strings' | 'words' | 'url' | 'free';
/**
 * A key of OS Image Composer's format that is not implemented: `changes` says
 * how a value would change the image (an error), or gives undefined for a value
 * that changes nothing (then `ignored` says why, as a warning).
 */
export interface Unimplemented {
  changes: (value: unknown) => string | undefined;
  ignored: string;
}
export type Field = Kind | { object: Shape } | { list: Shape } | { unimplemented: Unimplemented };

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});
const always = (what: string): { unimplemented: Unimplemented } => ({ unimplemented: { changes: () => what, ignored: '' } });
export type Shape = { readonly [key: string]: Field };

/** The value a kind is loaded as (reader.ts). */
interface KindValue {
  string: string;
  size: string;
  url: string;
  bool: boolean;
  int: number;
  strings: string[];
  words: string[];
  free: Record<string, unknown>;
}

/**
 * What loading a shape gives: every key optional (a user template states only
 * what differs), each of its kind's type. An unimplemented key that got past
 * loading has a value that changes nothing, kept as it was written.
 */
export type Loaded<S> = { -readonly [K in keyof S]?: FieldValue<S[K]> };
type FieldValue<F> = F extends keyof KindValue ? KindValue[F] : F extends { object: infer S } ? Loaded<S> : F extends { list: infer S } ? Loaded<S>[] : unknown;

/** The shapes the template types are made from (types.ts): one definition for loading and for the code. */
export type PartitionShape = typeof partition;
export type UserShape = typeof user;
export type RepositoryShape = typeof repository;
export type SystemConfigShape = typeof systemConfig;

const partition = {
  id: 'string',
  name: 'string',
  type: 'string',
  typeUUID: 'string',
  flags: 'strings',
  start: 'size',
  end: 'size',
  fsType: 'string',
  fsLabel: 'string',
  mountPoint: 'string',
  mountOptions: 'string',
} as const satisfies Shape;

const user = {
  name: 'string',
  password: 'string',
  hash_algo: 'string',
  groups: 'strings',
  sudo: 'bool',
  // OS Image Composer's user keys, applied by compose/configure/users.ts.
  passwordMaxAge: 'int',
  startupScript: 'string',
  home: 'string',
  shell: 'string',
} as const satisfies Shape;

const repository = {
  name: 'string',
  codename: 'string',
  url: 'url',
  pkey: 'string',
  component: 'words',
  priority: 'int',
  allowPackages: 'strings',
  trusted: 'bool',
  arch: 'words',
} as const satisfies Shape;

const systemConfig = {
  name: 'string',
  description: 'string',
  hostname: 'string',
  bootloader: { object: { bootType: 'string', provider: 'string' } },
  immutability: {
    object: {
      enabled: 'bool',
      secureBootDBKey: always('it signs the image for Secure Boot'),
      secureBootDBCrt: always('it signs the image for Secure Boot'),
      secureBootDBCer: always('it signs the image for Secure Boot'),
    },
  },
  // OS Image Composer's declarative network (compose/configure/network.ts).
  network: {
    object: {
      backend: 'string',
      interfaces: {
        list: { name: 'string', dhcp4: 'bool', dhcp6: 'bool', addresses: 'strings', routes: { list: { to: 'string', via: 'string' } }, nameservers: 'strings' },
      },
    },
  },
  fde: {
    unimplemented: {
      changes: (v) => (obj(v).enabled === false ? undefined : 'it encrypts partitions (LUKS2); set enabled: false or remove it'),
      ignored: 'has enabled: false',
    },
  },
  // OS Image Composer's ISO templates name the template of the system their medium boots (packages/initramfs-target.ts).
  initramfs: { object: { template: 'string' } },
  // Our key: the ISO's installer (validate.ts, compose/iso/installer.ts).
  installer: { object: { mode: 'string', target: 'string' } },
  packages: 'strings',
  // stage: pre-initramfs, a file the initramfs is made with (in overlay mode the others come after it).
  additionalFiles: { list: { local: 'string', final: 'string', stage: 'string' } },
  configurations: { list: { cmd: 'string' } },
  users: { list: user },
  kernel: {
    object: {
      version: 'string',
      cmdline: 'string',
      packages: 'strings',
      enableExtraModules: { unimplemented: { changes: (v) => (v === '' || v === null ? undefined : 'it loads extra kernel modules'), ignored: 'is empty' } },
      uki: { unimplemented: { changes: (v) => (v === false ? undefined : 'it builds a Unified Kernel Image'), ignored: 'is false' } },
    },
  },
} as const satisfies Shape;

/** The whole template. */
export const TEMPLATE_SHAPE = {
  // One parent, relative to this file's folder; load.ts follows the chain and merge.ts folds it.
  extends: 'string',
  // OS Image Composer's overlay mode (template/overlay.ts, compose/overlay/): build on an existing image.
  baseline: { object: { mode: 'string', source: { object: { path: 'url', url: 'url', format: 'string' } } } },
  overlayPolicy: {
    object: { packageOperation: 'string', conflictPolicy: 'string', kernelCmdline: 'string', allowDiskResize: 'bool', allowPackageRemoval: 'bool' },
  },
  image: { object: { name: 'string', version: 'string' } },
  target: { object: { os: 'string', dist: 'string', arch: 'string', imageType: 'string' } },
  disk: {
    object: {
      name: 'string',
      // The ISO installer's target device, as OS Image Composer's live installer reads it (validate.ts).
      path: 'string',
      size: 'size',
      partitionTableType: 'string',
      artifacts: { list: { type: 'string', compression: 'string' } },
      partitions: { list: partition },
    },
  },
  packageRepositories: { list: repository },
  systemConfig: { object: systemConfig },
  metadata: 'free',
} as const satisfies Shape;

/** Defaults APT itself would use for a repository entry. */
export const REPO_DEFAULTS = { priority: 500, trusted: false, component: ['main'] } as const;
