// `cache status|verify|prune|clean`: flags to the library's options, and the
// renderers (one JSON document with --json, else tables on stdout and a
// summary on stderr).
import type { CleanReport, CleanScope } from '../../commands/cache-clean.js';
import type { PruneReport } from '../../commands/cache-prune.js';
import type { StatusReport } from '../../commands/cache-status.js';
import type { VerifyReport } from '../../commands/cache-verify.js';
import type { RegistryVerifyReport } from '../../inventory/registry.js';
import { ExitCode, UserError } from '../../errors.js';
import type { Skipped } from '../../inventory/walk.js';
import { parseAge, parseSize } from '../../units/age.js';
import type { CommandInput, Flags } from '../command.js';
import { formatBytes } from '../output.js';
import { removalText, statusText, verifyText } from './cache-admin-text.js';

/** A string flag's value, when given. */
export const str = (flags: Flags, name: string): string | undefined => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);

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

const json = (command: string, body: object, { out }: CommandInput) => out.result(JSON.stringify({ command: `cache ${command}`, ...body }, null, 2));
const print = (text: string, { out }: CommandInput) => {
  if (text) out.result(text);
};
const problems = (skipped: readonly Skipped[]) => skipped.some((sk) => sk.problem);

// A folder that could not be read is a warning in every mode; links found
// (removed as links, or not followed) are notes beside the tables.
function notes({ out, emit }: CommandInput, skipped: readonly Skipped[], unreadable: readonly { path: string; reason: string }[] = []): void {
  for (const u of [...skipped.filter((sk) => sk.problem), ...unreadable]) emit({ type: 'warning', message: `could not read ${u.path}: ${u.reason}` });
  if (out.mode !== 'json') for (const sk of skipped) if (!sk.problem) out.note(`skipped ${sk.path}: ${sk.reason}`);
}

/** `cache status`: changes nothing, so always exit 0. */
export function renderStatus(r: StatusReport, input: CommandInput): number {
  const { out } = input;
  notes(input, r.skipped);
  if (out.mode === 'json') json('status', r, input);
  else {
    print(statusText(r), input);
    const g = r.registry;
    if (g?.unusable) input.emit({ type: 'warning', message: `cache registry ${g.repository} could not be read: ${g.unusable}` });
    const shared = r.tiers.find((t) => t.tier === 'shared');
    out.note(
      `${r.totals.entries} entries, ${formatBytes(r.totals.bytes)}${r.providerId ? ` for ${r.providerId}` : ''}; shared cache: ${shared ? `${shared.root}${shared.present ? (shared.readOnly ? ' (read-only)' : '') : ' (absent)'}` : 'not configured'}; cache registry: ${g ? g.repository : 'not configured'}`,
    );
  }
  return ExitCode.ok;
}

/** `cache verify`: exit 1 when something was corrupt or unreadable. */
export function renderVerify(r: VerifyReport, input: CommandInput): number {
  const { out } = input;
  // Unreadable folders are among r.unreadable too: warned once.
  notes(
    input,
    r.skipped.filter((sk) => !sk.problem),
    r.unreadable,
  );
  if (out.mode === 'json') json('verify', r, input);
  else {
    print(verifyText(r, out.verbose), input);
    const removed = r.corrupt.filter((c) => c.removed).length;
    out.note(
      `verified ${r.checked} files (${formatBytes(r.bytesHashed)}) in ${r.seconds.toFixed(1)} s: ${r.good} good, ${r.corrupt.length} corrupt` +
        `${r.corrupt.length ? ` (${removed} removed)` : ''}${r.unreadable.length ? `, ${r.unreadable.length} could not be read` : ''}${r.unverified.length ? `, ${r.unverified.length} without a known digest left alone${out.verbose ? '' : ' (--verbose lists them)'}` : ''}`,
    );
  }
  return r.ok ? ExitCode.ok : ExitCode.failure;
}

/** `cache verify --registry`: exit 1 when a blob or manifest is missing or corrupt, or the registry could not be read. */
export function renderRegistryVerify(r: RegistryVerifyReport, input: CommandInput): number {
  const { out } = input;
  if (out.mode === 'json') json('verify --registry', r, input);
  else {
    for (const p of r.problems) out.result(`${p.problem}: ${p.name} (${p.set}): ${p.reason}`);
    for (const w of r.withoutManifest) out.note(`not in the registry (no manifest): ${w}`);
    out.note(
      `cache registry ${r.repository}: ${r.checked} blobs checked (${formatBytes(r.bytes)} good): ${r.good} good, ${r.problems.filter((p) => p.problem === 'missing').length} missing, ${r.problems.filter((p) => p.problem === 'corrupt').length} corrupt${r.withoutManifest.length ? `; ${r.withoutManifest.length} sets never pushed` : ''}`,
    );
  }
  if (r.unusable) out.error(`error: the cache registry could not be checked: ${r.unusable}`);
  return r.ok && !r.unusable ? ExitCode.ok : ExitCode.failure;
}

/** `cache prune`: exit 1 when an entry could not be removed or a folder not read. */
export function renderPrune(r: PruneReport, input: CommandInput): number {
  const { out } = input;
  const dryRun = input.flags['dry-run'] === true;
  notes(input, r.skipped);
  if (out.mode === 'json') json('prune', r, input);
  else {
    print(removalText(r), input);
    const fit = r.maxBytes === null ? '' : `; ${r.fits ? 'within' : 'still over'} --max-size ${formatBytes(r.maxBytes)}`;
    out.note(
      `${dryRun ? 'would remove' : 'removed'} ${r.removed.length} of ${r.before.entries} entries (${formatBytes(r.freedBytes)}); local caches ${formatBytes(r.after.bytes)}${fit}${r.held.length ? `; ${r.held.length} held by running builds, left` : ''}`,
    );
  }
  return r.failed.length || problems(r.skipped) ? ExitCode.failure : ExitCode.ok;
}

/** `cache clean`: exit 1 when an entry could not be removed or a folder not read. */
export function renderClean(r: CleanReport, input: CommandInput): number {
  const { out } = input;
  const dryRun = input.flags['dry-run'] === true;
  notes(input, r.skipped);
  if (out.mode === 'json') json('clean', r, input);
  else {
    print(removalText(r), input);
    const scope = { packages: 'package caches', workspace: 'workspace', all: 'package caches and workspace' }[r.scope];
    out.note(
      `${dryRun ? 'would remove' : 'removed'} ${r.removed.length} entries (${formatBytes(r.freedBytes)}) from the ${scope}${r.providerId ? ` of ${r.providerId}` : ''}${r.held.length ? `; ${r.held.length} held by running builds, left` : ''}`,
    );
  }
  return r.failed.length || problems(r.skipped) ? ExitCode.failure : ExitCode.ok;
}
