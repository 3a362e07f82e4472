// What every step of loading one repository needs to know.
import { MetadataStore } from './store.js';
import type { MetadataOptions, RepoSpec } from './types.js';

export interface LoadContext {
  spec: RepoSpec;
  opts: MetadataOptions;
  store: MetadataStore;
  /** Binary keyrings for gpgv (armored ones already dearmored). */
  keyrings: string[];
  /** "repository <url> <codename>", the prefix of every message. */
  where: string;
  /** <url>/dists/<codename> without a trailing slash. */
  base: string;
  now: Date;
  /** Files downloaded during this load (0 means it came entirely from the store). */
  fetched: number;
}

/** The shared state of one load; keyrings are filled in by the caller. */
export function makeContext(spec: RepoSpec, opts: MetadataOptions): LoadContext {
  const url = spec.url.replace(/\/+$/, '');
  return {
    spec,
    opts,
    store: new MetadataStore(opts.storeDir, opts.emit),
    keyrings: [],
    where: `repository ${url} ${spec.codename}`,
    base: `${url}/dists/${spec.codename}`,
    now: (opts.now ?? (() => new Date()))(),
    fetched: 0,
  };
}

/** "12 KiB" for progress messages. */
export function kib(bytes: number): string {
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}
