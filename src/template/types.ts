// An image template in OS Image Composer's YAML format, as loaded. The types
// are made from the schema the loader walks (schema.ts), so the two cannot
// drift apart: a key added there is a field here, with its kind's type. Every
// field is optional because a user template only states what differs from the
// default template for its provider; validation runs on the merged whole.
import type { Loaded, PartitionShape, RepositoryShape, SystemConfigShape, TEMPLATE_SHAPE, UserShape } from './schema.js';

type Raw = Loaded<typeof TEMPLATE_SHAPE>;

/** The whole template; `extends` is resolved away when its chain is merged (load.ts, merge.ts). */
export type ImageTemplate = Omit<Raw, 'packageRepositories'> & {
  /** In parsed form (see RepoTemplate). */
  packageRepositories?: RepoTemplate[];
};

/** `{os, dist, arch, imageType}`, e.g. debian / debian13 / x86_64 / raw. */
export type TargetTemplate = NonNullable<Raw['target']>;

/** The disk layout; `path` is the ISO installer's device, `size` as written (size.ts). */
export type DiskTemplate = NonNullable<Raw['disk']>;

/** One partition; `start` and `end` are offsets as written, `end: "0"` the end of the disk. */
export type PartitionTemplate = Loaded<PartitionShape>;

/**
 * A package repository in parsed form (load.ts fills the defaults): `url` with
 * ${mirror} expanded and no trailing slash, `component` split into words,
 * `priority` 500 and `trusted` false unless given, as APT would.
 */
export type RepoTemplate = Loaded<RepositoryShape> & Required<Pick<Loaded<RepositoryShape>, 'codename' | 'url' | 'component' | 'priority' | 'trusted'>>;

export type UserTemplate = Loaded<UserShape>;

export type SystemConfigTemplate = Loaded<SystemConfigShape>;

/** `local` is relative to the folder of the template that names it; `final` is an absolute path in the image. */
export type AdditionalFile = NonNullable<SystemConfigTemplate['additionalFiles']>[number];
