// `cache status|verify|prune|clean`: flags to options, the library call, and
// rendering (one JSON document with --json, else tables on stdout and a
// summary on stderr).
import { type CleanScope, cacheClean } from '../../commands/cache-clean.js';
import { cachePrune } from '../../commands/cache-prune.js';
import { cacheStatus } from '../../commands/cache-status.js';
import { removalText, statusText, verifyText } from './cache-admin-text.js';
import { parseAge, parseSize } from '../../units/age.js';
import { cacheVerify } from '../../commands/cache-verify.js';
import type { Settings } from '../../config/load.js';
import { ExitCode, UserError } from '../../errors.js';
import type { Skipped } from '../../inventory/walk.js';
import type { Emit } from '../../log/events.js';
import { formatBytes, type Output } from '../output.js';

export type CacheAdminCommand = 'status' | 'verify' | 'prune' | 'clean';

export interface CacheAdminInput {
  settings: Settings;
  flags: Record<string, string | boolean>;
  emit: Emit;
  out: Output;
}

type Flags = CacheAdminInput['flags'];

const str = (flags: Flags, name: string): string | undefined => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);

/** prune's limits from its flags: at least one of --older-than and --max-size. */
export function pruneLimits(flags: Flags): { olderThanMs?: number; maxBytes?: number } {
  const age = str(flags, 'older-than');
  const size = str(flags, 'max-size');
  if (age === undefined && size === undefined) {
    throw new UserError(
      'cache prune needs --older-than, --max-size or both',
      'e.g. cache prune --older-than 180d, cache prune --max-size 20G, or both; add --dry-run to see what would go.',
    );
  }
  return { olderThanMs: age === undefined ? undefined : parseAge(age), maxBytes: size === undefined ? undefined : parseSize(size) };
}

/** clean's scope: exactly one of --packages, --workspace and --all. */
export function cleanScope(flags: Flags): CleanScope {
  const given = (['packages', 'workspace', 'all'] as const).filter((k) => flags[k] === true);
  if (given.length !== 1) {
    const what =
      given.length === 0
        ? 'cache clean needs one of --packages, --workspace and --all'
        : `cache clean takes one of --packages, --workspace and --all, not ${given.map((g) => `--${g}`).join(' and ')}`;
    throw new UserError(
      what,
      '--packages: pkgCache and the local g3-cache sections; --workspace: snapshots and image builds; --all: both. Add --dry-run to see what would go.',
    );
  }
  return given[0] as CleanScope;
}

/** Run one cache administration command and return its exit code. */
export async function runCacheAdmin(command: CacheAdminCommand, input: CacheAdminInput): Promise<number> {
  const { settings, flags, emit, out } = input;
  const providerId = str(flags, 'provider-id');
  const dryRun = flags['dry-run'] === true;
  const json = (body: object) => out.result(JSON.stringify({ command: `cache ${command}`, ...body }, null, 2));
  const print = (text: string) => {
    if (text) out.result(text);
  };
  // A folder that could not be read is a warning in every mode; links found
  // (removed as links, or not followed) are notes beside the tables.
  const notes = (skipped: readonly Skipped[], unreadable: readonly { path: string; reason: string }[] = []) => {
    for (const u of [...skipped.filter((sk) => sk.problem), ...unreadable]) emit({ type: 'warning', message: `could not read ${u.path}: ${u.reason}` });
    if (out.mode !== 'json') for (const sk of skipped) if (!sk.problem) out.note(`skipped ${sk.path}: ${sk.reason}`);
  };
  const problems = (skipped: readonly Skipped[]) => skipped.some((sk) => sk.problem);
  switch (command) {
    case 'status': {
      const r = await cacheStatus(settings, { providerId });
      notes(r.skipped);
      if (out.mode === 'json') json(r);
      else {
        print(statusText(r));
        const shared = r.tiers.find((t) => t.tier === 'shared');
        out.note(
          `${r.totals.entries} entries, ${formatBytes(r.totals.bytes)}${r.providerId ? ` for ${r.providerId}` : ''}; shared cache: ${shared ? `${shared.root}${shared.present ? (shared.readOnly ? ' (read-only)' : '') : ' (absent)'}` : 'not configured'}`,
        );
      }
      return ExitCode.ok;
    }
    case 'verify': {
      const r = await cacheVerify(settings, { providerId, emit });
      // Unreadable folders are among r.unreadable too: warned once.
      notes(
        r.skipped.filter((sk) => !sk.problem),
        r.unreadable,
      );
      if (out.mode === 'json') json(r);
      else {
        print(verifyText(r, out.verbose));
        const removed = r.corrupt.filter((c) => c.removed).length;
        out.note(
          `verified ${r.checked} files (${formatBytes(r.bytesHashed)}) in ${r.seconds.toFixed(1)} s: ${r.good} good, ${r.corrupt.length} corrupt` +
            `${r.corrupt.length ? ` (${removed} removed)` : ''}${r.unreadable.length ? `, ${r.unreadable.length} could not be read` : ''}${r.unverified.length ? `, ${r.unverified.length} without a known digest left alone${out.verbose ? '' : ' (--verbose lists them)'}` : ''}`,
        );
      }
      return r.ok ? ExitCode.ok : ExitCode.failure;
    }
    case 'prune': {
      const r = await cachePrune(settings, { ...pruneLimits(flags), dryRun });
      notes(r.skipped);
      if (out.mode === 'json') json(r);
      else {
        print(removalText(r));
        const fit = r.maxBytes === null ? '' : `; ${r.fits ? 'within' : 'still over'} --max-size ${formatBytes(r.maxBytes)}`;
        out.note(
          `${dryRun ? 'would remove' : 'removed'} ${r.removed.length} of ${r.before.entries} entries (${formatBytes(r.freedBytes)}); local caches ${formatBytes(r.after.bytes)}${fit}${r.held.length ? `; ${r.held.length} held by running builds, left` : ''}`,
        );
      }
      return r.failed.length || problems(r.skipped) ? ExitCode.failure : ExitCode.ok;
    }
    case 'clean': {
      const r = await cacheClean(settings, { scope: cleanScope(flags), providerId, dryRun });
      notes(r.skipped);
      if (out.mode === 'json') json(r);
      else {
        print(removalText(r));
        const scope = { packages: 'package caches', workspace: 'workspace', all: 'package caches and workspace' }[r.scope];
        out.note(
          `${dryRun ? 'would remove' : 'removed'} ${r.removed.length} entries (${formatBytes(r.freedBytes)}) from the ${scope}${r.providerId ? ` of ${r.providerId}` : ''}${r.held.length ? `; ${r.held.length} held by running builds, left` : ''}`,
        );
      }
      return r.failed.length || problems(r.skipped) ? ExitCode.failure : ExitCode.ok;
    }
  }
}
