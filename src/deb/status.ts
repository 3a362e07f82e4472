// dpkg's status database (/var/lib/dpkg/status): which packages a root
// filesystem has, in which state.
import { PackagesParser } from './packages.js';
import type { PackageRecord } from './types.js';

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
  /** The third word of Status: installed, unpacked, half-configured, config-files, not-installed... */
  state: string;
}

/** Parse a status file; entries without a Package field are skipped. */
export function parseDpkgStatus(text: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      if (line === '' || line.startsWith(' ') || line.startsWith('\t')) continue;
      const colon = line.indexOf(':');
      if (colon > 0) fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const name = fields.get('package');
    if (!name) continue;
    const status = (fields.get('status') ?? '').split(/\s+/);
    out.push({ name, version: fields.get('version') ?? '', architecture: fields.get('architecture') ?? '', state: status[2] ?? 'unknown' });
  }
  return out;
}

/**
 * The installed packages of a status file as package records (relations
 * included, no file to fetch), for resolving on top of an existing system.
 * `repository` names the source in records and in errors.
 */
export function installedRecords(text: string, repository: string): PackageRecord[] {
  const kept = text
    .split(/\n\s*\n/)
    .filter((stanza) => /^Status:\s*\S+\s+\S+\s+installed\s*$/im.test(stanza))
    .join('\n\n');
  const parser = new PackagesParser(repository, { installed: true });
  parser.push(Buffer.from(kept, 'utf8'));
  return parser.end();
}
