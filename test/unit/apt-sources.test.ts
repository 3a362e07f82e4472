import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AptSource, parseDeb822, parseOneLine, pickMirrors, readAptSources } from '../../src/config/apt-sources.js';
import { useTempDirs } from './tmpdir.js';

const MAIN = 'http://127.0.0.1:8080/debian';
const SECURITY = 'http://127.0.0.1:8081/debian-security';

describe('parseDeb822', () => {
  it('reads every enabled deb paragraph of a multi-paragraph file', () => {
    const text = [
      '# main archive',
      'Types: deb',
      `URIs: ${MAIN}`,
      'Suites: bookworm bookworm-updates',
      'Components: main contrib',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      `URIs: ${SECURITY}`,
      'Suites: bookworm-security',
      'Components: main',
      '',
    ].join('\n');
    expect(parseDeb822(text)).toEqual([
      { uris: [MAIN], suites: ['bookworm', 'bookworm-updates'], components: ['main', 'contrib'] },
      { uris: [SECURITY], suites: ['bookworm-security'], components: ['main'] },
    ]);
  });

  it('separates paragraphs by lines holding only whitespace', () => {
    const text = `Types: deb\nURIs: ${MAIN}\nSuites: a\n   \t\nTypes: deb\nURIs: ${SECURITY}\nSuites: b\n`;
    expect(parseDeb822(text).map((s) => s.suites)).toEqual([['a'], ['b']]);
  });

  it.each([
    ['Enabled: no', 'no'],
    ['Enabled: false', 'false'],
    ['Enabled: NO (any case)', 'NO'],
  ])('skips a paragraph with %s', (_what, value) => {
    const text = `Types: deb\nURIs: ${MAIN}\nSuites: bookworm\nEnabled: ${value}\n\nTypes: deb\nURIs: ${SECURITY}\nSuites: bookworm-security\n`;
    expect(parseDeb822(text)).toEqual([{ uris: [SECURITY], suites: ['bookworm-security'], components: [] }]);
  });

  it('keeps a paragraph with Enabled: yes', () => {
    expect(parseDeb822(`Types: deb\nURIs: ${MAIN}\nSuites: bookworm\nEnabled: yes\n`)).toHaveLength(1);
  });

  it('joins continuation lines to the field above', () => {
    const text = ['Types: deb', 'URIs:', `  ${MAIN}`, '  http://127.0.0.1:8082/debian', 'Suites: bookworm', ' bookworm-updates', 'Components: main'].join('\n');
    expect(parseDeb822(text)).toEqual([{ uris: [MAIN, 'http://127.0.0.1:8082/debian'], suites: ['bookworm', 'bookworm-updates'], components: ['main'] }]);
  });

  it('skips deb-src-only paragraphs and keeps "deb deb-src" ones', () => {
    const text = `Types: deb-src\nURIs: ${MAIN}\nSuites: src-only\n\nTypes: deb deb-src\nURIs: ${MAIN}\nSuites: both\n`;
    expect(parseDeb822(text).map((s) => s.suites)).toEqual([['both']]);
  });

  it('reads field names in any case and ignores comment lines inside a paragraph', () => {
    const text = `types: deb\n# URIs: http://127.0.0.1:1/commented\nuris: ${MAIN}\nSUITES: bookworm\n`;
    expect(parseDeb822(text)).toEqual([{ uris: [MAIN], suites: ['bookworm'], components: [] }]);
  });

  it('returns nothing for an empty file or one without Types', () => {
    expect(parseDeb822('')).toEqual([]);
    expect(parseDeb822(`URIs: ${MAIN}\nSuites: bookworm\n`)).toEqual([]);
  });
});

describe('parseOneLine', () => {
  it('reads deb lines with their suite and components', () => {
    expect(parseOneLine(`deb ${MAIN} bookworm main contrib\n`)).toEqual([{ uris: [MAIN], suites: ['bookworm'], components: ['main', 'contrib'] }]);
  });

  it('drops [options]', () => {
    const text = `deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] ${MAIN} bookworm main\n`;
    expect(parseOneLine(text)).toEqual([{ uris: [MAIN], suites: ['bookworm'], components: ['main'] }]);
  });

  it('ignores comment lines, trailing comments, blank lines and deb-src lines', () => {
    const text = [
      '# deb http://127.0.0.1:1/commented bookworm main',
      '',
      `deb-src ${MAIN} bookworm main`,
      `deb ${MAIN} bookworm main # the main archive`,
      `   deb ${SECURITY} bookworm-security main`,
    ].join('\n');
    expect(parseOneLine(text)).toEqual([
      { uris: [MAIN], suites: ['bookworm'], components: ['main'] },
      { uris: [SECURITY], suites: ['bookworm-security'], components: ['main'] },
    ]);
  });

  it.each([['deb'], [`deb ${MAIN}`], ['rpm http://127.0.0.1/x y z']])('ignores the incomplete or foreign line %j', (line) => {
    expect(parseOneLine(line)).toEqual([]);
  });
});

describe('pickMirrors', () => {
  const src = (uris: string[], suites: string[]): AptSource => ({ uris, suites, components: ['main'] });

  it('picks the first http(s) main and security mirrors, without trailing slashes', () => {
    const picked = pickMirrors([
      src([`${SECURITY}/`], ['bookworm-security']),
      src([`${MAIN}/`], ['bookworm']),
      src(['http://127.0.0.1:9999/later'], ['bookworm']),
    ]);
    expect(picked).toEqual({ mirror: MAIN, securityMirror: SECURITY });
  });

  it.each([
    ['a "-security" suite', src(['http://127.0.0.1:8081/x'], ['bookworm-security'])],
    ['a "/security" suite', src(['http://127.0.0.1:8081/x'], ['bullseye/security'])],
    ['"security" in the URI', src(['http://127.0.0.1:8081/debian-security'], ['bookworm'])],
  ])('recognises a security source by %s', (_what, source) => {
    expect(pickMirrors([source])).toEqual({ mirror: undefined, securityMirror: source.uris[0] });
  });

  it('skips non-http URIs and takes the first http one of a source', () => {
    const picked = pickMirrors([src(['file:///srv/mirror'], ['bookworm']), src(['cdrom:/media', `${MAIN}`], ['bookworm'])]);
    expect(picked.mirror).toBe(MAIN);
  });

  it('returns neither mirror when there are no sources', () => {
    expect(pickMirrors([])).toEqual({ mirror: undefined, securityMirror: undefined });
  });
});

describe('readAptSources', () => {
  const tempDir = useTempDirs('g3-apt-');

  it('reads sources.list, then sources.list.d in name order, by file type', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'etc/apt/sources.list.d'), { recursive: true });
    await writeFile(path.join(root, 'etc/apt/sources.list'), `deb ${MAIN} from-list main\n`);
    await writeFile(path.join(root, 'etc/apt/sources.list.d/b.sources'), `Types: deb\nURIs: ${SECURITY}\nSuites: bookworm-security\n`);
    await writeFile(path.join(root, 'etc/apt/sources.list.d/a.list'), 'deb http://127.0.0.1:8083/a a-list main\n');
    await writeFile(path.join(root, 'etc/apt/sources.list.d/c.txt'), 'deb http://127.0.0.1:8084/ignored ignored main\n');
    await writeFile(path.join(root, 'etc/apt/sources.list.d/d.list.save'), 'deb http://127.0.0.1:8085/ignored ignored main\n');
    const sources = await readAptSources(root);
    expect(sources.map((s) => s.suites[0])).toEqual(['from-list', 'a-list', 'bookworm-security']);
    expect(pickMirrors(sources)).toEqual({ mirror: MAIN, securityMirror: SECURITY });
  });

  it('returns nothing when the root has no apt configuration', async () => {
    expect(await readAptSources(await tempDir())).toEqual([]);
  });
});

describe('parseDeb822 with Windows line endings', () => {
  it('reads a .sources file written with CRLF', () => {
    const text = 'Types: deb\r\nURIs: http://127.0.0.1:8080/debian\r\nSuites: bookworm\r\nComponents: main\r\n';
    expect(parseDeb822(text)).toEqual([{ uris: ['http://127.0.0.1:8080/debian'], suites: ['bookworm'], components: ['main'] }]);
  });
});
