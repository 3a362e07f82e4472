// The composer image's fallback download: a tool missing from .g3-cache is
// installed with apt inside `docker build`, from the target's own repositories
// and checked with their own keys. The keyrings are copied into the build
// context (`.g3-cache/composer-<provider-id>/keyrings/<sha256>.gpg|.asc`, named
// by content) so the Dockerfile's bind mount of .g3-cache brings them in, and
// each sources line names them with `signed-by`. A repository marked
// `trusted: true` without a key is the only one apt is told to trust unsigned.
import { openNoFollow } from '../../fs/safe.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { writeFileAtomic } from '../../fs/atomic.js';
import { toolsSection } from '../../layout/paths.js';
import { isArmored } from '../../repo/deb/keyrings.js';
import type { RepoSpec } from '../../repo/deb/types.js';

/** Where the Dockerfile's RUN sees the build context's .g3-cache (its bind mount). */
export const CONTEXT_CACHE_MOUNT = '/g3-cache';

export interface FallbackSources {
  /** One-line apt sources, for the APT_SOURCES build argument. */
  lines: string[];
  /** 'host' when a repository is on this machine's loopback (e.g. a caching proxy on 127.0.0.1), so the build can reach it. */
  network?: 'host';
}

/** Copy each repository's keyrings into `<g3Cache>/composer-<providerId>/keyrings/` and write the sources lines that use them. */
export async function fallbackSources(
  repos: Array<Pick<RepoSpec, 'url' | 'codename' | 'components' | 'keyrings' | 'trusted'>>,
  g3Cache: string,
  providerId: string,
): Promise<FallbackSources> {
  const section = toolsSection(providerId);
  const lines: string[] = [];
  for (const r of repos) {
    const keys: string[] = [];
    for (const file of r.keyrings) {
      // The keyring path was checked (it lies in the template's folder or the toolkit's keyrings); a link swapped in since is not followed.
      const fh = await openNoFollow(file, 'r');
      const bytes = await fh.readFile().finally(() => fh.close());
      const name = `${createHash('sha256').update(bytes).digest('hex')}.${(await isArmored(file)) ? 'asc' : 'gpg'}`;
      // Below the local g3-cache: never through a link in place of the section or keyrings folder.
      await writeFileAtomic(path.join(g3Cache, section, 'keyrings', name), bytes, true, g3Cache);
      keys.push(`${CONTEXT_CACHE_MOUNT}/${section}/keyrings/${name}`);
    }
    const options = keys.length > 0 ? `[signed-by=${keys.join(',')}] ` : r.trusted ? '[trusted=yes] ' : '';
    lines.push(`deb ${options}${r.url} ${r.codename} ${r.components.join(' ')}`);
  }
  return { lines, network: repos.some((r) => isLoopback(r.url)) ? 'host' : undefined };
}

/** Whether a URL's host is this machine's loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
