// The Debian provider: how a template's repositories become repository
// specifications (ids, keyrings). Supported dists are in template/provider.ts.
import { resolveKeyFile } from '../template/local-files.js';
import type { RepoTemplate } from '../template/types.js';

/** A stable id for a repository: its codename, made unique when two share one. */
export function repositoryIds(entries: readonly RepoTemplate[]): string[] {
  const seen = new Map<string, number>();
  return entries.map((e) => {
    const base = e.codename.replace(/[^A-Za-z0-9._-]/g, '_');
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

/**
 * The keyring file for a repository's `pkey`: a path relative to the template,
 * else a keyring shipped in defaults/keyrings; none → the shipped Debian keyring.
 * The check `validate` makes: after links are resolved it lies in one of those folders.
 */
export async function resolveKeyring(pkey: string | undefined, templateDir: string, projectRoot: string, where: string): Promise<string> {
  return resolveKeyFile(pkey, templateDir, projectRoot, where);
}
