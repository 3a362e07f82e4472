// `cache status|verify|prune|clean`: the cache administration commands,
// target-less; the library does the work (src/commands/cache-*.ts).
import { cacheClean } from '../../commands/cache-clean.js';
import { cachePrune } from '../../commands/cache-prune.js';
import { cacheStatus } from '../../commands/cache-status.js';
import { cacheVerify, cacheVerifyRegistry, type VerifyReport } from '../../commands/cache-verify.js';
import { defineCommand, type Options } from '../command.js';
import { cleanScope, pruneLimits, renderClean, renderPrune, renderRegistryVerify, renderStatus, renderVerify, str } from './cache-admin-run.js';

const PROVIDER = 'debian-debian13-x86_64';
const DRY_RUN: Options = { 'dry-run': { type: 'boolean', description: 'list what would be removed, remove nothing' } };

/** `cache status`: sizes and last use, changing nothing. */
export const cacheStatusCommand = defineCommand({
  name: 'cache status',
  summary: 'size, entries and last use per cache tier, provider and section; workspace snapshots',
  targetless: true,
  usage: 'cache status [--provider-id ID] [--json]',
  options: { 'provider-id': { type: 'string', value: 'ID', description: `only this provider (e.g. ${PROVIDER})` } },
  description: `Size, entry count and newest last use per tier (local and shared g3-cache,
package cache), provider and section, and the workspace snapshots (chroot and
installed-package keys), and with a cache registry (cache_registry) how many of
the blobs the current locks need it holds, and whether their manifests are
there. Changes nothing.`,
  examples: (prog) => [`${prog} cache status`, `${prog} cache status --provider-id ${PROVIDER}`, `${prog} cache status --json`],
  run: ({ settings, flags, emit }) => cacheStatus(settings, { providerId: str(flags, 'provider-id'), emit }),
  render: renderStatus,
});

/** `cache verify`: rehash everything, remove what is corrupt. */
export const cacheVerifyCommand = defineCommand({
  name: 'cache verify',
  summary: 'rehash every cached file; corrupt entries are reported and removed',
  targetless: true,
  usage: 'cache verify [--provider-id ID] [--registry] [--json]',
  options: {
    'provider-id': { type: 'string', value: 'ID', description: 'only this provider' },
    registry: { type: 'boolean', description: 'check the cache registry instead: every blob the current locks need is there and intact' },
  },
  description: `Rehashes every cached file in every tier against its recorded SHA256. Corrupt
entries are reported and removed with their stamps, under the same locks a
build takes; good ones are never touched. Exit 1 when something was corrupt.
With --registry it checks the cache registry (cache_registry) instead: for each
current lock (and target's artifacts) whose manifest is there, every blob it
lists is fetched and hashed; nothing is changed. Exit 1 when one is missing or
corrupt, or the registry cannot be read.`,
  examples: (prog) => [
    `${prog} cache verify`,
    `${prog} cache verify --provider-id ${PROVIDER} --json`,
    `G3_CACHE_REGISTRY=127.0.0.1:5000/g3-cache ${prog} cache verify --registry`,
  ],
  run: async ({ settings, flags, emit }) =>
    flags.registry === true
      ? { registry: await cacheVerifyRegistry(settings, { emit }) }
      : { files: await cacheVerify(settings, { providerId: str(flags, 'provider-id'), emit }) },
  render: (r, input) => (r.registry ? renderRegistryVerify(r.registry, input) : renderVerify(r.files as VerifyReport, input)),
});

/** `cache prune`: least recently used first, by age and total size. */
export const cachePruneCommand = defineCommand({
  name: 'cache prune',
  summary: 'remove least recently used cache entries by age and total size',
  targetless: true,
  usage: 'cache prune [--older-than AGE] [--max-size SIZE] [--dry-run] [--json]',
  options: {
    'older-than': { type: 'string', value: 'AGE', description: 'remove entries last used longer ago than AGE (e.g. 180d, 12h, 30m)' },
    'max-size': { type: 'string', value: 'SIZE', description: 'then remove least recently used entries until the caches fit in SIZE (e.g. 20G, 500M)' },
    ...DRY_RUN,
  },
  description: `Removes cache entries least recently used first, by their recorded last use
(not atime): --older-than removes those unused for longer than AGE (30m, 12h,
180d, 2w), then --max-size removes more until the caches fit in SIZE (500M,
20G, 1.5T; K, M, G, T and KiB, MiB, ... are powers of 1024, KB, MB, GB powers
of 1000, as in templates). At least one of the two is required. Entries that a
running build holds are skipped and reported.`,
  examples: (prog) => [
    `${prog} cache prune --older-than 180d --max-size 20G`,
    `${prog} cache prune --max-size 500M --dry-run`,
    `${prog} cache prune --older-than 2w --json`,
  ],
  run: ({ settings, flags }) => cachePrune(settings, { ...pruneLimits(flags), dryRun: flags['dry-run'] === true }),
  render: renderPrune,
});

/** `cache clean`: exactly one of --packages, --workspace and --all. */
export const cacheCleanCommand = defineCommand({
  name: 'cache clean',
  summary: 'remove package caches and/or workspace snapshots',
  targetless: true,
  usage: 'cache clean --packages|--workspace|--all [--provider-id ID] [--dry-run] [--json]',
  options: {
    packages: { type: 'boolean', description: 'remove the package caches (pkgCache) and the g3-cache sections' },
    workspace: { type: 'boolean', description: 'remove workspace snapshots (chroot, installed packages) and image builds' },
    all: { type: 'boolean', description: 'both' },
    'provider-id': { type: 'string', value: 'ID', description: 'only this provider' },
    ...DRY_RUN,
  },
  description: `Removes the package caches and g3-cache sections (--packages), the workspace
snapshots and image builds (--workspace), or both (--all); exactly one of the
three is required. --provider-id limits it to one provider.`,
  examples: (prog) => [`${prog} cache clean --workspace --dry-run`, `${prog} cache clean --packages --provider-id ${PROVIDER}`, `${prog} cache clean --all`],
  run: ({ settings, flags }) => cacheClean(settings, { scope: cleanScope(flags), providerId: str(flags, 'provider-id'), dryRun: flags['dry-run'] === true }),
  render: renderClean,
});
