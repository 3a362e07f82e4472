// The host's Debian mirrors, read from its apt sources, so no archive host is
// ever written into the toolkit: deb822 `.sources` files and one-line lists.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { ignoreNotFound } from '../fs/safe.js';

export interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
}

/** Parse a deb822 `.sources` file (paragraphs of `Key: value`). */
export function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const para of text.replace(/\r\n?/g, '\n').split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of para.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1]!.toLowerCase();
        fields.set(last, m[2]!.trim());
      }
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb') || /^(no|false)$/i.test(fields.get('enabled') ?? '')) continue;
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    out.push({ uris: words('uris'), suites: words('suites'), components: words('components') });
  }
  return out;
}

/** Parse one-line style `deb [opts] uri suite comp...` lists. */
export function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw
      .replace(/#.*/, '')
      .replace(/\[[^\]]*\]/, '')
      .trim();
    const [type, uri, suite, ...components] = line.split(/\s+/);
    if (type === 'deb' && uri && suite) out.push({ uris: [uri], suites: [suite], components });
  }
  return out;
}

/** A missing file or folder reads as nothing; any other failure (permission, I/O) names the file and how to avoid reading it. */
async function orNothing<T>(p: Promise<T>, file: string, none: T): Promise<T> {
  try {
    return (await ignoreNotFound(p)) ?? none;
  } catch (err) {
    throw new UserError(
      `cannot read the apt sources ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'Fix its permissions, or set G3_MIRROR and G3_SECURITY_MIRROR (or mirror and security_mirror) so the apt sources are not read.',
    );
  }
}

/** Every enabled `deb` source of the host (under `root`, for tests). */
export async function readAptSources(root = '/'): Promise<AptSource[]> {
  const sources: AptSource[] = [];
  const list = path.join(root, 'etc/apt/sources.list');
  sources.push(...parseOneLine(await orNothing(readFile(list, 'utf8'), list, '')));
  const dir = path.join(root, 'etc/apt/sources.list.d');
  const names = (await orNothing(readdir(dir), dir, [] as string[])).sort();
  for (const name of names) {
    const isSources = name.endsWith('.sources');
    // apt reads only these two kinds; backups and editor files beside them are left alone, never opened.
    if (!isSources && !name.endsWith('.list')) continue;
    const file = path.join(dir, name);
    const text = await orNothing(readFile(file, 'utf8'), file, '');
    sources.push(...(isSources ? parseDeb822(text) : parseOneLine(text)));
  }
  return sources;
}

/** The main and security mirrors among `sources` (first http(s) URI of each kind). */
export function pickMirrors(sources: AptSource[]): { mirror?: string; securityMirror?: string } {
  const http = (s: AptSource) => s.uris.find((u) => /^https?:\/\//.test(u));
  const isSecurity = (s: AptSource) => s.suites.some((x) => /[-/]security$/.test(x)) || s.uris.some((u) => /security/.test(u));
  const main = sources.find((s) => !isSecurity(s) && http(s));
  const sec = sources.find((s) => isSecurity(s) && http(s));
  return { mirror: main && http(main)?.replace(/\/+$/, ''), securityMirror: sec && http(sec)?.replace(/\/+$/, '') };
}
