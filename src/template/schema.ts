// The keys an image template may have and the kind of value each holds.
// Loading walks this tree: anything not named here is warned about and
// dropped, so a typo does not silently change an image.

/**
 * string: a scalar (numbers keep their written form, `6.10` stays "6.10");
 * size: a string or number, see size.ts; url: a string with ${var} expanded;
 * words: a list of strings, or one string of space- or comma-separated words;
 * free: any mapping, kept as plain data.
 */
export type Kind = 'string' | 'size' | 'bool' | 'int' | 'strings' | 'words' | 'url' | 'free';
export type Field = Kind | { object: Shape } | { list: Shape };
export type Shape = { readonly [key: string]: Field };

const partition: Shape = {
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
};

const repository: Shape = {
  name: 'string',
  codename: 'string',
  url: 'url',
  pkey: 'string',
  component: 'words',
  priority: 'int',
  allowPackages: 'strings',
  trusted: 'bool',
  arch: 'words',
};

const systemConfig: Shape = {
  name: 'string',
  description: 'string',
  hostname: 'string',
  bootloader: { object: { bootType: 'string', provider: 'string' } },
  immutability: { object: { enabled: 'bool' } },
  packages: 'strings',
  additionalFiles: { list: { local: 'string', final: 'string' } },
  configurations: { list: { cmd: 'string' } },
  users: { list: { name: 'string', password: 'string', hash_algo: 'string', groups: 'strings', sudo: 'bool' } },
  kernel: { object: { version: 'string', cmdline: 'string', packages: 'strings' } },
};

/** The whole template. */
export const TEMPLATE_SHAPE: Shape = {
  image: { object: { name: 'string', version: 'string' } },
  target: { object: { os: 'string', dist: 'string', arch: 'string', imageType: 'string' } },
  disk: {
    object: {
      name: 'string',
      size: 'size',
      partitionTableType: 'string',
      artifacts: { list: { type: 'string', compression: 'string' } },
      partitions: { list: partition },
    },
  },
  packageRepositories: { list: repository },
  systemConfig: { object: systemConfig },
  metadata: 'free',
};

/** Defaults APT itself would use for a repository entry. */
export const REPO_DEFAULTS = { priority: 500, trusted: false, component: ['main'] } as const;
