// The Debian provider: how a template's repositories become repository
// specifications (ids, keyrings). Supported dists are in template/provider.ts.
import { access } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
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

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/**
 * The keyring files for a repository's `pkey`: a path relative to the template,
 * else a keyring shipped in defaults/keyrings; none → the shipped Debian keyring.
 */
export async function resolveKeyring(pkey: string | undefined, templateDir: string, projectRoot: string, where: string): Promise<string> {
  const shipped = path.join(projectRoot, 'defaults', 'keyrings');
  const name = pkey ?? 'debian-archive-keyring.gpg';
  const candidates = path.isAbsolute(name) ? [name] : [path.resolve(templateDir, name), path.join(shipped, name)];
  for (const c of candidates) if (await exists(c)) return c;
  throw new UserError(`${where}: pkey ${name} not found (looked in ${candidates.join(', ')})`, 'Put the keyring beside the template or in defaults/keyrings/.');
}
