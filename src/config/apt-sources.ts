// The host's Debian mirrors, read from its apt sources, so no archive host is
// ever written into the toolkit: deb822 `.sources` files and one-line lists.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

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
    const line = raw.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim();
    const [type, uri, suite, ...components] = line.split(/\s+/);
    if (type === 'deb' && uri && suite) out.push({ uris: [uri], suites: [suite], components });
  }
  return out;
}

/** Every enabled `deb` source of the host (under `root`, for tests). */
export async function readAptSources(root = '/'): Promise<AptSource[]> {
  const sources: AptSource[] = [];
  const one = await readFile(path.join(root, 'etc/apt/sources.list'), 'utf8').catch(() => '');
  sources.push(...parseOneLine(one));
  const dir = path.join(root, 'etc/apt/sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const text = await readFile(path.join(dir, name), 'utf8').catch(() => '');
    if (name.endsWith('.sources')) sources.push(...parseDeb822(text));
    else if (name.endsWith('.list')) sources.push(...parseOneLine(text));
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
