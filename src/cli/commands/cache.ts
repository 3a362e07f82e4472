// `<target> cache [--check] [--verify]`: refresh a target's verified caches,
// or only say whether they need it.
import type { CheckReport, RefreshReport } from '../../cache/refresh.js';
import { cache as refreshCache } from '../../commands/cache.js';
import { ExitCode } from '../../errors.js';
import { defineCommand } from '../command.js';
import { formatBytes, type Output } from '../output.js';

function renderCheck(target: string, r: CheckReport, out: Output): number {
  if (out.mode === 'json') out.result(JSON.stringify({ command: 'cache --check', target, ...r }, null, 2));
  else if (r.ok) out.note(`${target}: all ${r.items} items present and verified; no refresh needed`);
  else {
    for (const f of r.needsRefresh) out.result(`needs refresh: ${f.item}: ${f.reason}`);
    out.note(`${target}: ${r.needsRefresh.length} of ${r.items} items need a refresh`);
  }
  return r.ok ? ExitCode.ok : ExitCode.failure;
}

/** The registry's part of a refresh, in one line: what came from it and what went to it. */
function registryLine(r: RefreshReport): string | undefined {
  const g = r.registry;
  if (!g) return undefined;
  if (g.unusable) return `cache registry ${g.repository}: not used (${g.unusable})`;
  const sent = `${g.pushed} blobs pushed (${formatBytes(g.bytesPushed)})${g.mounted ? `, ${g.mounted} mounted` : ''}, ${g.present} already there`;
  return `cache registry ${g.repository}: ${r.hits.registry} pulled (${formatBytes(r.bytesFromRegistry)}), ${g.pushFailed ? `push failed (${g.pushFailed})` : sent}${g.manifests.length ? `; manifests ${g.manifests.join(', ')}` : ''}`;
}

function corruptText(r: RefreshReport): string {
  const inRegistry = r.corrupt.filter((c) => c.tier === 'registry').length;
  const replaced = r.corrupt.length - inRegistry;
  return `${replaced ? `, ${replaced} corrupt copies replaced` : ''}${inRegistry ? `, ${inRegistry} corrupt registry blobs not used` : ''}`;
}

function renderRefresh(target: string, r: RefreshReport, out: Output, push?: { ok: boolean }): number {
  if (out.mode === 'json') out.result(JSON.stringify({ command: push ? 'cache --push' : 'cache', target, ...r, ...(push && { pushed: push.ok }) }, null, 2));
  else {
    out.note(
      `${target}: ${r.items} items — ${r.hits.local} local, ${r.hits.shared} from shared${r.registry ? `, ${r.hits.registry} from the registry` : ''}, ${r.downloads} downloaded (${formatBytes(r.bytesDownloaded)})` +
        `${r.writtenBack ? `, ${r.writtenBack} written back to shared` : ''}${corruptText(r)} in ${r.seconds.toFixed(2)} s`,
    );
    const line = registryLine(r);
    if (line) out.note(line);
  }
  for (const f of r.failures) out.error(`error: ${f.item}: ${f.url}: ${f.reason}`);
  for (const m of r.missing) out.error(`error: ${m}: not cached, and --offline forbids downloading it`);
  if (r.failures.some((f) => /HTTP 40[34]|HTTP 410/.test(f.reason))) {
    out.error(
      `hint: a file is gone from the mirror; if it is a locked package, the archive has moved on: run "${target} lock --update", or use a mirror that keeps old versions`,
    );
  }
  if (!r.ok)
    out.error(
      `error: ${r.failures.length ? `${new Set(r.failures.map((f) => f.item)).size} item(s) failed` : `${r.missing.length} item(s) missing`}; verified items were kept`,
    );
  if (push && !push.ok && r.ok) out.error('error: the cache registry was not filled (see the warnings above)');
  return r.ok && (push?.ok ?? true) ? ExitCode.ok : ExitCode.failure;
}

/** `cache`: exit 1 when an item failed, or when --check found work. */
export const cacheCommand = defineCommand({
  name: 'cache',
  summary: "refresh the target's verified .g3-cache (local → shared → registry → origin)",
  options: {
    check: { type: 'boolean', description: 'change nothing: exit 0 when every item is present and verified, 1 when a refresh is needed' },
    verify: { type: 'boolean', description: 'ignore verification stamps and rehash every file' },
    push: { type: 'boolean', description: 'fill the cache registry (cache_registry) with what the target needs; exit 1 when it cannot' },
  },
  description: `Each artifact is looked up in the local tier (.g3-cache/<section>/<file>), then in
the shared tier (SHARED_G3_CACHE_PATH/<section>/<file>), then downloaded; every file
is checked against its size and SHA256 before it is used, and downloads are written
back to the shared tier. Builders may share one shared tier concurrently (also on NFS).
A template target also gets its locked packages into <cache_dir>/pkgCache/<provider-id>/
(locking first when it has no lock) and its composer tools into .g3-cache/composer-<provider-id>/.
With a cache registry (G3_CACHE_REGISTRY, an OCI repository) the order is local → shared →
registry → origin: blobs are looked up by SHA256 and verified, and what this run verified
is pushed back with a manifest per lock; a registry that fails is one warning.`,
  examples: (prog) => [
    `${prog} latest cache`,
    `${prog} latest cache --check && echo up to date`,
    `SHARED_G3_CACHE_PATH=/mnt/g3 ${prog} latest cache --offline`,
    `G3_CACHE_REGISTRY=127.0.0.1:5000/g3-cache ${prog} latest cache --push`,
  ],
  run: ({ settings, target, flags, emit }) =>
    refreshCache({ settings, target, check: flags.check === true, verify: flags.verify === true, push: flags.push === true, emit }),
  render: (result, { out }) =>
    result.mode === 'check' ? renderCheck(result.target, result.report, out) : renderRefresh(result.target, result.report, out, result.push),
});
