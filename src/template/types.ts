// An image template in OS Image Composer's YAML format, as loaded. Every field
// is optional because a user template only states what differs from the
// default template for its provider; validation runs on the merged whole.

export interface ImageTemplate {
  /** The parent template, relative to this file's folder; resolved (and removed) when the chain is loaded (load.ts). */
  extends?: string;
  image?: { name?: string; version?: string };
  target?: TargetTemplate;
  disk?: DiskTemplate;
  packageRepositories?: RepoTemplate[];
  systemConfig?: SystemConfigTemplate;
  /** Free-form; carried through untouched. */
  metadata?: Record<string, unknown>;
}

export interface TargetTemplate {
  /** e.g. `debian` */
  os?: string;
  /** e.g. `debian13` */
  dist?: string;
  /** e.g. `x86_64` */
  arch?: string;
  /** e.g. `raw` */
  imageType?: string;
}

export interface DiskTemplate {
  name?: string;
  /** The device the ISO installer writes (OS Image Composer's key); systemConfig.installer.target says the same. */
  path?: string;
  /** A size as written (`4GiB`, `4096M`, `1073741824`); see size.ts. */
  size?: string;
  partitionTableType?: string;
  artifacts?: Array<{ type?: string; compression?: string }>;
  partitions?: PartitionTemplate[];
}

export interface PartitionTemplate {
  id?: string;
  name?: string;
  type?: string;
  typeUUID?: string;
  flags?: string[];
  /** Offset from the start of the disk, as written. */
  start?: string;
  /** Offset from the start of the disk, as written; "0" means the end of the disk. */
  end?: string;
  fsType?: string;
  fsLabel?: string;
  mountPoint?: string;
  mountOptions?: string;
}

/** A package repository in parsed form: defaults applied, lists split. */
export interface RepoTemplate {
  /** Optional label some templates carry; not used to match entries. */
  name?: string;
  codename: string;
  /** `${mirror}` and `${security_mirror}` already expanded. */
  url: string;
  /** A keyring name (looked up in defaults/keyrings), a path or a URL. */
  pkey?: string;
  /** `main contrib` in the file becomes ['main', 'contrib']. */
  component: string[];
  /** Default 500, like APT. */
  priority: number;
  /** Only these packages may come from this repository. */
  allowPackages?: string[];
  /** Our key: accept the repository without a valid signature (explicit opt-in). */
  trusted: boolean;
  /** Our key: Debian architectures to read (`amd64`, `all`); default from the target. */
  arch?: string[];
}

export interface UserTemplate {
  name?: string;
  password?: string;
  hash_algo?: string;
  groups?: string[];
  sudo?: boolean;
}

export interface AdditionalFile {
  /** Relative to the directory of the template that names it. */
  local?: string;
  /** Absolute path in the image. */
  final?: string;
}

export interface SystemConfigTemplate {
  name?: string;
  description?: string;
  hostname?: string;
  bootloader?: { bootType?: string; provider?: string };
  immutability?: { enabled?: boolean };
  packages?: string[];
  additionalFiles?: AdditionalFile[];
  configurations?: Array<{ cmd?: string }>;
  users?: UserTemplate[];
  kernel?: { version?: string; cmdline?: string; packages?: string[] };
  /** imageType iso: the template (imageType img) of the system the medium boots, relative to the template's folder. */
  initramfs?: { template?: string };
  /** imageType iso only: whether and how the live system installs the template's disk image. */
  installer?: { mode?: string; target?: string };
}
