import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTarget, loadCatalogue, parseCatalogue } from '../../src/catalogue/load.js';
import { UserError } from '../../src/errors.js';
import { useTempDirs } from './tmpdir.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
// A name relative to the cwd is shown as given in messages.
const FILE = 'cat.yml';

/** The UserError that parsing `text` throws (fails the test when none is thrown). */
function parseError(text: string, vars: Record<string, string | undefined> = {}): UserError {
  try {
    parseCatalogue(text, FILE, vars);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected parseCatalogue to throw');
}

/**
 * A catalogue whose target "latest" has a good first artifact (lines 4-7) and a
 * second artifact made of `second` (its first line is line 8).
 */
function withSecond(second: string[]): string {
  return [
    'targets:', // 1
    '  latest:', // 2
    '    artifacts:', // 3
    '      - section: tools', // 4
    '        file: a.deb', // 5
    '        url: http://127.0.0.1:9/a.deb', // 6
    `        sha256: ${SHA_A}`, // 7
    ...second.map((l, i) => (i === 0 ? `      - ${l}` : `        ${l}`)), // 8...
    '',
  ].join('\n');
}

const VALID = [
  '# comment', // 1
  'targets:', // 2
  '  latest:', // 3
  '    description: The latest tools', // 4
  '    template: image.yml', // 5
  '    artifacts:', // 6
  '      - section: tools', // 7
  '        file: a.deb', // 8
  '        url: ${mirror}/pool/a.deb', // 9
  `        sha256: ${SHA_A.toUpperCase()}`, // 10
  '        size: 10', // 11
  '      - section: tools', // 12
  '        file: b.deb', // 13
  '        urls:', // 14
  '          - http://127.0.0.1:9/b.deb', // 15
  '          - https://127.0.0.1:9/mirror/b.deb', // 16
  `        sha256: ${SHA_B}`, // 17
  '  other:', // 18
  '    artifacts: []', // 19
  '',
].join('\n');

describe('parseCatalogue', () => {
  it('reads targets, artifacts, descriptions and the other keys of a valid catalogue', () => {
    const cat = parseCatalogue(VALID, FILE, { mirror: 'http://127.0.0.1:8080/debian' });
    expect(cat.file).toBe(FILE);
    expect(cat.warnings).toEqual([]);
    expect([...cat.targets.keys()]).toEqual(['latest', 'other']);
    const latest = cat.targets.get('latest');
    expect(latest?.description).toBe('The latest tools');
    expect(latest?.template).toEqual({ value: 'image.yml', origin: { file: FILE, line: 5 } });
    expect(Object.keys(latest ?? {}).sort()).toEqual(['artifacts', 'description', 'name', 'template']);
    expect(latest?.artifacts).toEqual([
      { section: 'tools', file: 'a.deb', urls: ['http://127.0.0.1:8080/debian/pool/a.deb'], sha256: SHA_A, size: 10, origin: { file: FILE, line: 7 } },
      {
        section: 'tools',
        file: 'b.deb',
        urls: ['http://127.0.0.1:9/b.deb', 'https://127.0.0.1:9/mirror/b.deb'],
        sha256: SHA_B,
        size: undefined,
        origin: { file: FILE, line: 12 },
      },
    ]);
  });

  it('lowercases an upper-case sha256', () => {
    const cat = parseCatalogue(VALID, FILE, { mirror: 'http://127.0.0.1:8080/debian' });
    expect(cat.targets.get('latest')?.artifacts[0]?.sha256).toBe(SHA_A);
  });

  it.each([
    ['without a trailing slash', 'http://127.0.0.1:8080/debian'],
    ['with a trailing slash', 'http://127.0.0.1:8080/debian/'],
    ['with several trailing slashes', 'http://127.0.0.1:8080/debian///'],
  ])('expands ${mirror} from a mirror %s without doubling the slash', (_what, mirror) => {
    const cat = parseCatalogue(VALID, FILE, { mirror });
    expect(cat.targets.get('latest')?.artifacts[0]?.urls).toEqual(['http://127.0.0.1:8080/debian/pool/a.deb']);
  });

  it('expands several variables in one URL list', () => {
    const text = withSecond(['section: tools', 'file: b.deb', 'urls: ["${mirror}/b.deb", "${security_mirror}/b.deb"]', `sha256: ${SHA_B}`]);
    const cat = parseCatalogue(text, FILE, { mirror: 'http://127.0.0.1:8080/debian/', security_mirror: 'http://127.0.0.1:8081/security' });
    expect(cat.targets.get('latest')?.artifacts[1]?.urls).toEqual(['http://127.0.0.1:8080/debian/b.deb', 'http://127.0.0.1:8081/security/b.deb']);
  });

  it.each([
    [
      'an unknown variable',
      'url: ${nope}/b.deb',
      { mirror: 'http://127.0.0.1:8080/debian' },
      /uses \$\{nope\}, which is not set \(known: mirror; set it in \.env or the environment\)/,
    ],
    ['an unset variable', 'url: ${mirror}/b.deb', { mirror: undefined }, /uses \$\{mirror\}, which is not set/],
    ['an empty variable', 'url: ${mirror}/b.deb', { mirror: '' }, /uses \$\{mirror\}, which is not set/],
    ['no variables at all', 'url: ${mirror}/b.deb', {}, /\(known: none;/],
  ])('refuses a URL with %s, naming line and field path', (_what, urlLine, vars, message) => {
    const err = parseError(withSecond(['section: tools', 'file: b.deb', urlLine, `sha256: ${SHA_B}`]), vars);
    expect(err.message).toMatch(/^cat\.yml:10: targets\.latest\.artifacts\[1\]\.url uses/);
    expect(err.message).toMatch(message);
    expect(err.hint).toMatch(/Fix the target catalogue/);
  });

  it('names the failing entry of a urls list by its index', () => {
    const err = parseError(withSecond(['section: tools', 'file: b.deb', 'urls:', '  - http://127.0.0.1:9/ok.deb', '  - ${nope}/b.deb', `sha256: ${SHA_B}`]));
    expect(err.message).toMatch(/^cat\.yml:12: targets\.latest\.artifacts\[1\]\.urls\[1\] uses \$\{nope\}/);
  });

  // Names of Object.prototype members must not count as set variables.
  it.each(['toString', 'constructor', 'hasOwnProperty', '__proto__'])('refuses ${%s} as an unset variable', (name) => {
    const err = parseError(withSecond(['section: tools', 'file: b.deb', `url: \${${name}}/b.deb`, `sha256: ${SHA_B}`]));
    expect(err.message).toContain(`cat.yml:10: targets.latest.artifacts[1].url uses \${${name}}, which is not set`);
  });

  it.each([
    ['a missing sha256', ['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb'], 8, 'sha256', /is required/],
    ['a short sha256', ['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', 'sha256: abc123'], 11, 'sha256', /must be 64 hexadecimal digits/],
    [
      'a non-hex sha256',
      ['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${'g'.repeat(64)}`],
      11,
      'sha256',
      /must be 64 hexadecimal digits/,
    ],
    ['a numeric sha256', ['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', 'sha256: 12345'], 11, 'sha256', /must be a string/],
    [
      'a negative size',
      ['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`, 'size: -1'],
      12,
      'size',
      /must be a whole number of bytes/,
    ],
    [
      'a fractional size',
      ['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`, 'size: 1.5'],
      12,
      'size',
      /must be a whole number of bytes/,
    ],
    [
      'a string size',
      ['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`, 'size: "10"'],
      12,
      'size',
      /must be a whole number of bytes/,
    ],
    [
      'url and urls together',
      ['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', 'urls: [http://127.0.0.1:9/c.deb]', `sha256: ${SHA_B}`],
      11,
      'urls',
      /cannot be given together with url/,
    ],
    ['an empty urls list', ['section: tools', 'file: b.deb', 'urls: []', `sha256: ${SHA_B}`], 10, 'urls', /must be a non-empty list of URLs/],
    [
      'urls that is not a list',
      ['section: tools', 'file: b.deb', 'urls: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`],
      10,
      'urls',
      /must be a non-empty list of URLs/,
    ],
    ['no url at all', ['section: tools', 'file: b.deb', `sha256: ${SHA_B}`], 8, 'url', /is required \(or urls: \[\.\.\.\]\)/],
    ['an ftp url', ['section: tools', 'file: b.deb', 'url: ftp://127.0.0.1/b.deb', `sha256: ${SHA_B}`], 10, 'url', /must use http or https, not ftp:/],
    ['a file url', ['section: tools', 'file: b.deb', 'url: file:///etc/passwd', `sha256: ${SHA_B}`], 10, 'url', /must use http or https, not file:/],
    [
      'a url with credentials',
      ['section: tools', 'file: b.deb', 'url: http://u:p@127.0.0.1/b.deb', `sha256: ${SHA_B}`],
      10,
      'url',
      /must not embed credentials/,
    ],
    ['a garbage url', ['section: tools', 'file: b.deb', 'url: not a url', `sha256: ${SHA_B}`], 10, 'url', /is not a valid URL/],
    [
      'a non-http url in a list',
      ['section: tools', 'file: b.deb', 'urls:', '  - http://127.0.0.1:9/b.deb', '  - javascript:alert(1)', `sha256: ${SHA_B}`],
      12,
      'urls[1]',
      /must use http or https, not javascript:/,
    ],
    ['a section with "/"', ['section: ../../etc', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`], 8, 'section', /without "\/"/],
    ['a section ".."', ['section: ..', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`], 8, 'section', /must not be "\.\."/],
    ['a hidden section', ['section: .g3-locks', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`], 8, 'section', /must not start with "\."/],
    ['a file name with "/"', ['section: tools', 'file: ../../../etc/passwd', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`], 9, 'file', /without "\/"/],
    ['a file name with a backslash', ['section: tools', 'file: "a\\\\b.deb"', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`], 9, 'file', /without/],
    [
      'a file name with a control character',
      ['section: tools', 'file: "a\\x1bb.deb"', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`],
      9,
      'file',
      /control characters/,
    ],
    ['a file name "."', ['section: tools', 'file: "."', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`], 9, 'file', /must not be "\."/],
    ['a numeric file name', ['section: tools', 'file: 42', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`], 9, 'file', /must be a string/],
    ['a missing section', ['file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`], 8, 'section', /is required/],
  ])('refuses an artifact with %s, naming file:line and the field path', (_what, second, line, field, problem) => {
    const err = parseError(withSecond(second));
    expect(err.message.startsWith(`cat.yml:${line}: targets.latest.artifacts[1].${field} `)).toBe(true);
    expect(err.message).toMatch(problem);
  });

  it('refuses an artifact that is not a mapping', () => {
    const err = parseError(withSecond(['just-a-string']));
    expect(err.message).toMatch(/^cat\.yml:8: targets\.latest\.artifacts\[1\] must be a mapping with section, file, url\(s\) and sha256$/);
  });

  it.each([
    ['a document that is a list', '- a\n- b\n', /^cat\.yml:1: document must be a mapping with a "targets" key/],
    ['a missing targets key', '{}\n', /^cat\.yml:1: targets must be a mapping of target names to targets/],
    ['targets that is a list', 'targets:\n  - a\n', /^cat\.yml:2: targets must be a mapping/],
    ['a target that is a string', 'targets:\n  latest: nope\n', /^cat\.yml:2: targets\.latest must be a mapping/],
    ['artifacts that is a mapping', 'targets:\n  latest:\n    artifacts:\n      a: 1\n', /^cat\.yml:4: targets\.latest\.artifacts must be a list of artifacts/],
    ['a target name with a slash', 'targets:\n  ../x:\n    artifacts: []\n', /^cat\.yml:2: targets\."\.\.\/x" is not a valid target name/],
    ['a target name starting with a dot', 'targets:\n  .hidden: {}\n', /^cat\.yml:2: targets\."\.hidden" is not a valid target name/],
    [
      'a target name of 240 characters',
      `targets:\n  ${'a'.repeat(240)}: {}\n`,
      /^cat\.yml:2: targets\."a{64}\.\.\." is 240 characters long; a target name has at most 64$/,
    ],
    ['a target name with a right-to-left override', 'targets:\n  "evil\\u202e": {}\n', /^cat\.yml:2: targets\."evil\\u202e" contains U\+202E;/],
    ['a target name with a no-break space', 'targets:\n  "a\\u00a0b": {}\n', /^cat\.yml:2: targets\."a\u00a0b" contains U\+00A0;/],
    ['a description that is a list', 'targets:\n  latest:\n    description: [a]\n', /^cat\.yml:3: targets\.latest\.description must be a string/],
  ])('refuses %s', (_what, text, message) => {
    expect(parseError(text).message).toMatch(message);
  });

  it('reports malformed YAML as a UserError naming the file', () => {
    const err = parseError('targets:\n  latest: {\n');
    expect(err.message).toMatch(/^cat\.yml:\d+: malformed YAML: /);
    expect(err.hint).toMatch(/Fix the YAML syntax/);
  });

  it('reports a duplicate key as malformed YAML', () => {
    expect(parseError('targets:\n  a: {}\n  a: {}\n').message).toMatch(/malformed YAML: Map keys must be unique/);
  });

  it.each([
    ['a duplicate key', 'targets:\n  a:\n    artifacts: []\n  a:\n    artifacts: []\n', 4],
    ['a bad indentation', 'targets:\n  a: 1\n b: 2\n', 3],
    ['an unclosed flow sequence', 'targets:\n  latest:\n    description: x\n    artifacts: [\n', 5],
  ])('reports malformed YAML (%s) at its line', (_what, text, line) => {
    expect(parseError(text).message).toMatch(new RegExp(`^cat\\.yml:${line}: malformed YAML`));
  });

  it.each([
    [
      'a misspelt target key',
      'targets:\n  img:\n    tempalte: templates/img.yml\n',
      'cat.yml:3: targets.img.tempalte is not a target key (did you mean "template"?)',
    ],
    [
      'a misspelt artifact key',
      withSecond(['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`, 'szie: 3']),
      'cat.yml:12: targets.latest.artifacts[1].szie is not an artifact key (did you mean "size"?)',
    ],
    [
      'an unknown artifact key',
      withSecond(['section: tools', 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`, 'colour: blue']),
      'cat.yml:12: targets.latest.artifacts[1].colour is not an artifact key (known keys: section, file, url, urls, sha256, size)',
    ],
    ['a misspelt top-level key', 'tragets:\n  img: {}\n', 'cat.yml:1: tragets is not a top-level catalogue key (did you mean "targets"?)'],
    ['an unknown top-level key', 'targets: {}\nversion: 2\n', 'cat.yml:2: version is not a top-level catalogue key (known keys: targets)'],
    [
      'an unknown key with a control character',
      'targets:\n  img:\n    "a\\u001b[2J": 1\n',
      'cat.yml:3: targets.img.a\\u001b[2J is not a target key (known keys: description, artifacts, template, tools, image, registry, tags)',
    ],
  ])('refuses %s, naming file, line and the nearest known key', (_what, text, message) => {
    expect(parseError(text).message).toBe(message);
  });

  it.each([
    ['pkgCache', /must not be "pkgCache": the toolkit keeps its package cache under that name/],
    ['repoCache', /must not be "repoCache"/],
    ['composer-debian-debian13-x86_64', /must not start with "composer-"/],
  ])('refuses the section %j, a name the toolkit uses for its own folders', (section, problem) => {
    const err = parseError(withSecond([`section: ${section}`, 'file: b.deb', 'url: http://127.0.0.1:9/b.deb', `sha256: ${SHA_B}`]));
    expect(err.message.startsWith('cat.yml:8: targets.latest.artifacts[1].section ')).toBe(true);
    expect(err.message).toMatch(problem);
  });

  it.each([
    ['section', 'a C1 control', '"to\\u009bols"', 'U+009B', '"to\\u009bols"'],
    ['section', 'a bidi override', '"to\\u202eols"', 'U+202E', '"to\\u202eols"'],
    ['file', 'a no-break space', '"b\\u00a0.deb"', 'U+00A0', '"b\u00a0.deb"'],
    ['file', 'a zero-width space', '"b\\u200b.deb"', 'U+200B', '"b\u200b.deb"'],
  ])('refuses a %s with %s, printing it escaped', (field, _what, yaml, code, shown) => {
    const lines = { section: `section: ${yaml}`, file: `file: ${yaml}` } as Record<string, string>;
    const second = [
      field === 'section' ? lines.section : 'section: tools',
      field === 'file' ? lines.file : 'file: b.deb',
      'url: http://127.0.0.1:9/b.deb',
      `sha256: ${SHA_B}`,
    ];
    const err = parseError(withSecond(second as string[]));
    expect(err.message).toMatch(new RegExp(`^cat\\.yml:${field === 'section' ? 8 : 9}: targets\\.latest\\.artifacts\\[1\\]\\.${field} `));
    expect(err.message).toContain(`(${shown} has ${code})`);
    expect(err.message).not.toMatch(/[\u0080-\u009f\u202a-\u202e]/);
  });

  it('refuses a URL with an escape sequence and prints it escaped', () => {
    const err = parseError(withSecond(['section: tools', 'file: b.deb', 'url: "http://127.0.0.1:9/\\e[2J\\e]0;x\\a.deb"', `sha256: ${SHA_B}`]));
    expect(err.message).toBe(
      'cat.yml:10: targets.latest.artifacts[1].url is not a valid URL: "http://127.0.0.1:9/\\u001b[2J\\u001b]0;x\\u0007.deb" contains U+001B (no whitespace, control or bidi characters; write a space as %20)',
    );
  });

  it('reads the keys later commands use as typed values, each with its line, without a warning', () => {
    const cat = parseCatalogue('targets:\n  latest:\n    tags: [a, b]\n    template: t.yml\n    artifacts: []\n', FILE);
    expect(cat.warnings).toEqual([]);
    const latest = cat.targets.get('latest');
    expect(latest?.tags).toEqual({ value: ['a', 'b'], origin: { file: FILE, line: 3 } });
    expect(latest?.template).toEqual({ value: 't.yml', origin: { file: FILE, line: 4 } });
  });

  it('keeps one copy of an item declared twice with the same sha256', () => {
    const cat = parseCatalogue(withSecond(['section: tools', 'file: a.deb', 'url: http://127.0.0.1:9/other/a.deb', `sha256: ${SHA_A.toUpperCase()}`]), FILE);
    const artifacts = cat.targets.get('latest')?.artifacts ?? [];
    expect(artifacts).toHaveLength(1);
    expect(artifacts[0]).toMatchObject({ file: 'a.deb', urls: ['http://127.0.0.1:9/a.deb'], origin: { line: 4 } });
  });

  it('refuses an item declared twice with another sha256, naming both lines', () => {
    const err = parseError(withSecond(['section: tools', 'file: a.deb', 'url: http://127.0.0.1:9/a.deb', `sha256: ${SHA_B}`]));
    expect(err.message).toBe('cat.yml:8: targets.latest.artifacts[1] declares tools/a.deb again with another sha256 (first at line 4)');
  });

  it('treats the same file name in two sections as two items', () => {
    const cat = parseCatalogue(withSecond(['section: other', 'file: a.deb', 'url: http://127.0.0.1:9/a.deb', `sha256: ${SHA_B}`]), FILE);
    expect(cat.targets.get('latest')?.artifacts.map((a) => `${a.section}/${a.file}`)).toEqual(['tools/a.deb', 'other/a.deb']);
  });

  it.each([
    ['an empty value', 'targets:\n  bare:\n'],
    ['an empty mapping', 'targets:\n  bare: {}\n'],
    ['only a description', 'targets:\n  bare:\n    description: nothing yet\n'],
    ['an empty artifact list', 'targets:\n  bare:\n    artifacts: []\n'],
  ])('accepts a target without artifacts given as %s', (_what, text) => {
    const cat = parseCatalogue(text, FILE);
    expect(cat.targets.get('bare')?.artifacts).toEqual([]);
    expect(findTarget(cat, 'bare').name).toBe('bare');
  });

  it.each([
    ['under the working directory by its relative path', path.join(process.cwd(), 'docker', 'x.yml'), path.join('docker', 'x.yml')],
    [
      'outside the working directory by its absolute path',
      path.join(path.dirname(process.cwd()), 'elsewhere', 'x.yml'),
      path.join(path.dirname(process.cwd()), 'elsewhere', 'x.yml'),
    ],
  ])('shows a file %s', (_what, file, shown) => {
    try {
      parseCatalogue('targets: 1\n', file);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toBe(`${shown}:1: targets must be a mapping of target names to targets`);
    }
  });
});

describe('findTarget', () => {
  it('returns the named target', () => {
    const cat = parseCatalogue(VALID, FILE, { mirror: 'http://127.0.0.1:8080/debian' });
    expect(findTarget(cat, 'latest').artifacts).toHaveLength(2);
  });

  it('refuses an unknown target and lists the known ones, sorted, in the hint', () => {
    const cat = parseCatalogue('targets:\n  zeta: {}\n  alpha: {}\n', FILE);
    let err: unknown;
    try {
      findTarget(cat, 'latset');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe('unknown target "latset" in cat.yml');
    expect((err as UserError).hint).toBe('Known targets: alpha, zeta.');
  });

  it('suggests the nearest known target', () => {
    const cat = parseCatalogue('targets:\n  latest: {}\n  alpha: {}\n', FILE);
    expect(() => findTarget(cat, 'latset')).toThrow(expect.objectContaining({ hint: 'Did you mean "latest"? Known targets: alpha, latest.' }));
  });

  it.each([
    ['240 characters long', 'x'.repeat(240), /^target "x{64}\.\.\." is 240 characters long; a target name has at most 64$/],
    ['with an escape sequence', 'a\u001b[2Jb', /^target "a\\u001b\[2Jb" contains U\+001B;/],
    ['with a slash', 'a/b', /^target "a\/b" is not a valid target name/],
  ])('refuses a target name %s as a user error, before looking it up', (_what, name, message) => {
    const cat = parseCatalogue('targets:\n  latest: {}\n', FILE);
    expect(() => findTarget(cat, name)).toThrow(UserError);
    expect(() => findTarget(cat, name)).toThrow(message);
  });

  it('says "(none)" when the catalogue has no targets', () => {
    const cat = parseCatalogue('targets: {}\n', FILE);
    expect(() => findTarget(cat, 'x')).toThrow(expect.objectContaining({ hint: 'Known targets: (none).' }));
  });
});

describe('loadCatalogue', () => {
  const tempDir = useTempDirs('g3-cat-');

  it('reads and parses a catalogue file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'targets.yml');
    await writeFile(file, VALID);
    const cat = await loadCatalogue(file, { mirror: 'http://127.0.0.1:8080/debian' });
    expect(cat.file).toBe(file);
    expect([...cat.targets.keys()]).toEqual(['latest', 'other']);
  });

  it('refuses a missing file with a UserError naming it and the error code', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nope.yml');
    await expect(loadCatalogue(file)).rejects.toThrow(UserError);
    await expect(loadCatalogue(file)).rejects.toThrow(`cannot read target catalogue ${file}: ENOENT`);
  });
});

describe('an empty artifacts key', () => {
  it('is a target with no artifacts', () => {
    const cat = parseCatalogue('targets:\n  latest:\n    artifacts:\n', FILE);
    expect(findTarget(cat, 'latest').artifacts).toEqual([]);
  });
});

describe('the typed keys of a target', () => {
  const EVERY_KEY = [
    'targets:', // 1
    '  img:', // 2
    '    template: templates/img.yml', // 3
    '    tools: [mmdebstrap, e2fsprogs, mmdebstrap]', // 4
    '    image: team/os', // 5
    '    registry: 127.0.0.1:5000', // 6
    '    tags:', // 7
    '      - latest', // 8
    '      - "1.0"', // 9
    '',
  ].join('\n');

  it('reads every key with the line it was declared on, values as written', () => {
    const t = findTarget(parseCatalogue(EVERY_KEY, FILE), 'img');
    const at = (line: number) => ({ file: FILE, line });
    expect(t).toEqual({
      name: 'img',
      artifacts: [],
      template: { value: 'templates/img.yml', origin: at(3) },
      tools: { value: ['mmdebstrap', 'e2fsprogs', 'mmdebstrap'], origin: at(4) },
      image: { value: 'team/os', origin: at(5) },
      registry: { value: '127.0.0.1:5000', origin: at(6) },
      tags: { value: ['latest', '1.0'], origin: at(7) },
    });
  });

  it.each([
    ['one tag', 'tags: edge', ['edge']],
    ['a number, as YAML reads it', 'tags: [latest, 2, 1.0]', ['latest', '2', '1']],
    ['a quoted number, as written', 'tags: ["1.0"]', ['1.0']],
  ])('reads tags given as %s as a list of strings', (_what, line, tags) => {
    expect(findTarget(parseCatalogue(`targets:\n  img:\n    ${line}\n`, FILE), 'img').tags?.value).toEqual(tags);
  });

  it.each(['tools', 'image', 'registry', 'tags'])('treats an empty %s as not given', (key) => {
    for (const empty of ['', ' ~', ' null']) {
      const t = findTarget(parseCatalogue(`targets:\n  img:\n    ${key}:${empty}\n`, FILE), 'img');
      expect(t).toEqual({ name: 'img', artifacts: [] });
    }
  });

  it.each([
    ['a template that is a number', 'template: 42', 3, 'template', 'must be a file path', 'For example: template: templates/minimal.yml'],
    ['an empty template', 'template:', 3, 'template', 'must be a file path', 'For example: template: templates/minimal.yml'],
    ['a blank template', 'template: "  "', 3, 'template', 'must be a file path', 'For example: template: templates/minimal.yml'],
    ['a template that is a list', 'template: [a.yml]', 3, 'template', 'must be a file path', 'For example: template: templates/minimal.yml'],
    [
      'tools that is one name',
      'tools: mmdebstrap',
      3,
      'tools',
      'must be a list of Debian package names',
      'For example: tools: [mmdebstrap, mtools, e2fsprogs]',
    ],
    [
      'a tool that is not a package name',
      'tools:\n      - mtools\n      - Bad_Name',
      5,
      'tools',
      'must be a list of Debian package names',
      'For example: tools: [mmdebstrap, mtools, e2fsprogs]',
    ],
    [
      'a tool that is a mapping',
      'tools: [mtools, {a: 1}]',
      3,
      'tools',
      'must be a list of Debian package names',
      'For example: tools: [mmdebstrap, mtools, e2fsprogs]',
    ],
    ['an image that is a list', 'image: [team/os]', 3, 'image', 'must be a string', 'Name the repository, for example: image: team/minimal'],
    ['an image that is a number', 'image: 5', 3, 'image', 'must be a string', 'Name the repository, for example: image: team/minimal'],
    ['a registry that is a number', 'registry: 5000', 3, 'registry', 'must be a string', 'For example: registry: 127.0.0.1:5000'],
    ['a registry that is a mapping', 'registry: {host: a}', 3, 'registry', 'must be a string', 'For example: registry: 127.0.0.1:5000'],
    ['tags that are not strings', 'tags: [{a: 1}]', 3, 'tags', 'must be a tag or a list of tags', 'For example: tags: [latest, "1.0"]'],
    ['an empty tag list', 'tags: []', 3, 'tags', 'must be a tag or a list of tags', 'For example: tags: [latest, "1.0"]'],
    ['a tag that is true', 'tags:\n      - latest\n      - true', 5, 'tags', 'must be a tag or a list of tags', 'For example: tags: [latest, "1.0"]'],
    ['tags that are a mapping', 'tags: {a: 1}', 3, 'tags', 'must be a tag or a list of tags', 'For example: tags: [latest, "1.0"]'],
  ])('refuses %s when loading, naming file:line and the field path', (_what, line, at, key, problem, hint) => {
    const err = parseError(`targets:\n  img:\n    ${line}\n`);
    expect(err.message).toBe(`cat.yml:${at}: targets.img.${key} ${problem}`);
    expect(err.hint).toBe(hint);
  });

  it('refuses a bad key of one target even when another target is asked for, as it does for artifacts', () => {
    expect(parseError('targets:\n  good: {}\n  bad:\n    tools: nope\n').message).toBe('cat.yml:4: targets.bad.tools must be a list of Debian package names');
  });

  it('reads the shipped catalogue: a template target with tools, and an artifact-only target', async () => {
    const file = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'docker', 'targets.yml');
    const cat = await loadCatalogue(file, { mirror: 'http://127.0.0.1:9/debian', security_mirror: 'http://127.0.0.1:9/debian-security' });
    const latest = findTarget(cat, 'latest');
    expect(latest.template?.value).toBe('templates/minimal.yml');
    expect(latest.tools?.value).toContain('mmdebstrap');
    expect(latest.artifacts).toEqual([]);
    const pinned = findTarget(cat, 'bookworm-tools');
    expect(pinned.template).toBeUndefined();
    expect(pinned.tools).toBeUndefined();
    expect(pinned.artifacts.length).toBeGreaterThan(0);
  });
});
