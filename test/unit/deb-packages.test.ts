import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, PackagesParser, parsePackages } from '../../src/deb/packages.js';
import { recordProblem } from '../../src/deb/policy.js';
import type { PackageRecord } from '../../src/deb/types.js';
import { UserError } from '../../src/errors.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = '0123456789abcdef'.repeat(4);

// A realistic stanza with fields we keep and fields we skip (Description with a long text, Tag folded).
const HELLO = `Package: hello
Version: 2.10-3
Installed-Size: 280
Maintainer: Someone <someone@example.org>
Architecture: amd64
Depends: libc6 (>= 2.34)
Description: example package based on GNU hello
 The GNU hello program produces a familiar, friendly greeting.
 .
 It allows non-programmers to use a classic computer science tool.
Tag: devel::examples, role::program,
 use::learning
Section: devel
Priority: optional
Filename: pool/main/h/hello/hello_2.10-3_amd64.deb
Size: 53348
SHA256: ${SHA_A}
`;

const BASH = `Package: bash
Essential: yes
Priority: required
Section: shells
Installed-Size: 7164
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Version: 5.2.15-2+b2
Source: bash (5.2.15-2)
Replaces: bash-completion (<< 20060301-0), bash-doc (<= 2.05-1)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)
Pre-Depends: libc6 (>= 2.36),
 libtinfo6 (>= 6)
Recommends: bash-completion (>= 20060301-0)
Conflicts: bash-completion (<< 20060301-0)
Breaks: apparmor (<< 2.8.0-0)
Provides: sh (= 5.2), bash-static
Multi-Arch: foreign
Filename: pool/main/b/bash/bash_5.2.15-2+b2_amd64.deb
Size: 1491772
SHA256: ${SHA_B.toUpperCase()}
`;

/** Records as plain objects, every field parsed (their relation fields are parsed when first read). */
function plain(records: PackageRecord[]): PackageRecord[] {
  return JSON.parse(JSON.stringify(records)) as PackageRecord[];
}

describe('parsePackages', () => {
  it('reads every stanza with the fields the resolver needs', () => {
    const records = parsePackages(`${HELLO}\n${BASH}`, 'debian-main');
    expect(plain(records)).toStrictEqual<PackageRecord[]>([
      {
        name: 'hello',
        version: '2.10-3',
        architecture: 'amd64',
        essential: false,
        priority: 'optional',
        section: 'devel',
        depends: [[{ name: 'libc6', op: '>=', version: '2.34' }]],
        preDepends: [],
        provides: [],
        conflicts: [],
        breaks: [],
        filename: 'pool/main/h/hello/hello_2.10-3_amd64.deb',
        size: 53348,
        sha256: SHA_A,
        repository: 'debian-main',
      },
      {
        name: 'bash',
        version: '5.2.15-2+b2',
        architecture: 'amd64',
        multiArch: 'foreign',
        essential: true,
        priority: 'required',
        section: 'shells',
        source: 'bash',
        depends: [[{ name: 'base-files', op: '>=', version: '2.1.12' }], [{ name: 'debianutils', op: '>=', version: '5.6-0.1' }]],
        preDepends: [[{ name: 'libc6', op: '>=', version: '2.36' }], [{ name: 'libtinfo6', op: '>=', version: '6' }]],
        provides: [{ name: 'sh', op: '=', version: '5.2' }, { name: 'bash-static' }],
        conflicts: [{ name: 'bash-completion', op: '<<', version: '20060301-0' }],
        breaks: [{ name: 'apparmor', op: '<<', version: '2.8.0-0' }],
        filename: 'pool/main/b/bash/bash_5.2.15-2+b2_amd64.deb',
        size: 1491772,
        sha256: SHA_B,
        repository: 'debian-main',
      },
    ]);
  });

  it.each([
    ['an empty text', ''],
    ['blank lines only', '\n\n  \n'],
  ])('returns no records for %s', (_what, text) => {
    expect(parsePackages(text, 'r')).toStrictEqual([]);
  });

  it.each([
    ['several blank lines between stanzas', `\n\n${HELLO}\n\n\n${BASH}\n\n`],
    ['no final newline', `${HELLO}\n${BASH.trimEnd()}`],
    ['CR LF line ends', `${HELLO}\n${BASH}`.replace(/\n/g, '\r\n')],
    ['a whitespace-only separator line', `${HELLO} \t\n${BASH}`],
    ['a byte-order mark', `\ufeff${HELLO}\n${BASH}`],
    [
      'lower- and upper-case field names',
      `${HELLO}\n${BASH}`
        .replace(/^Package:/gm, 'package:')
        .replace(/^Filename:/gm, 'FILENAME:')
        .replace(/^Pre-Depends:/m, 'pre-depends:'),
    ],
    ['no space after the colon', `${HELLO}\n${BASH}`.replace(/^(Version|Size):\s*/gm, '$1:')],
  ])('tolerates %s', (_what, text) => {
    const records = parsePackages(text, 'r');
    expect(records.map((r) => [r.name, r.version, r.size, r.filename])).toStrictEqual([
      ['hello', '2.10-3', 53348, 'pool/main/h/hello/hello_2.10-3_amd64.deb'],
      ['bash', '5.2.15-2+b2', 1491772, 'pool/main/b/bash/bash_5.2.15-2+b2_amd64.deb'],
    ]);
    expect(records[1]!.preDepends).toHaveLength(2);
  });

  it('treats only "yes" as Essential', () => {
    const text = `${HELLO.replace('Package: hello', 'Package: hello\nEssential: no')}\n${BASH}`;
    expect(parsePackages(text, 'r').map((r) => r.essential)).toStrictEqual([false, true]);
  });

  it.each([
    ['Package', 'Package: hello\n', 'line 1: a stanza without a Package field has no Package field'],
    ['Version', 'Version: 2.10-3\n', 'line 1: package hello has no Version field'],
    ['Architecture', 'Architecture: amd64\n', 'line 1: package hello has no Architecture field'],
    ['Filename', 'Filename: pool/main/h/hello/hello_2.10-3_amd64.deb\n', 'line 1: package hello has no Filename field'],
    ['Size', 'Size: 53348\n', 'line 1: package hello has no Size field'],
    ['SHA256', `SHA256: ${SHA_A}\n`, 'line 1: package hello has no SHA256 field'],
  ])('rejects a stanza without %s, naming the line and the package', (_field, line, message) => {
    expect(() => parsePackages(HELLO.replace(line, ''), 'debian-main')).toThrow(`Packages index of repository "debian-main", ${message}`);
  });

  it('names the line where the incomplete stanza starts', () => {
    const text = `${HELLO}\n${BASH.replace(/^Size: .*\n/m, '')}`;
    expect(() => parsePackages(text, 'r')).toThrow(/line 19: package bash has no Size field/);
  });

  it.each([
    ['an empty required field', HELLO.replace('Size: 53348', 'Size:'), /line 1: package hello has no Size field/],
    ['a size that is not a number', HELLO.replace('Size: 53348', 'Size: 53k'), /line 16 \(package hello\): Size "53k" is not a whole number/],
    ['a short hash', HELLO.replace(SHA_A, 'abc'), /line 17 \(package hello\): SHA256 "abc" is not 64 hexadecimal digits/],
    ['alternatives in Provides', BASH.replace('sh (= 5.2)', 'sh | dash'), /line 17 \(package bash\): Provides: alternatives/],
    [
      'a duplicated field',
      HELLO.replace('Section: devel', 'Section: devel\nsection: libs'),
      /line 14: field Section appears twice in the stanza that starts on line 1/,
    ],
    ['a line without a colon', `${HELLO}\nnot a field\n`, /line 19: "not a field" is neither "Field: value" nor a continuation line/],
    ['a continuation line before any field', ` stray\n${HELLO}`, /line 1: a continuation line/],
  ])('rejects %s with a UserError that says where', (_what, text, message) => {
    let error: unknown;
    try {
      parsePackages(text, 'r');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(message);
    expect((error as UserError).hint).toMatch(/refresh the repository metadata/);
  });

  it('parses a relation field when it is first read, and reports a bad one then with its line and package', () => {
    const bad = HELLO.replace('libc6 (>= 2.34)', 'libc6 (>= 2.34');
    const [record] = parsePackages(`${bad}\n${BASH}`, 'r');
    expect(record!.name).toBe('hello');
    let error: unknown;
    try {
      void record!.depends;
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(/line 6 \(package hello\): Depends: a version constraint without its closing "\)"/);
    expect((error as UserError).hint).toMatch(/refresh the repository metadata/);
    // Read again, it fails the same way (nothing half-parsed is kept); the other fields are there.
    expect(() => record!.depends).toThrow(/line 6 \(package hello\)/);
    expect(record!.preDepends).toStrictEqual([]);
  });

  it('keeps the Source name when no version suffix is given', () => {
    const [record] = parsePackages(HELLO.replace('Package: hello', 'Package: hello\nSource: hello-src'), 'r');
    expect(record!.source).toBe('hello-src');
  });

  it('ignores continuation lines of fields it skips', () => {
    const [record] = parsePackages(HELLO, 'r');
    expect(record!.section).toBe('devel');
    expect(JSON.stringify(record)).not.toContain('greeting');
  });
});

describe('PackagesParser', () => {
  const whole = `\ufeff${HELLO}\n${BASH}`.replace(/\n/g, '\r\n');

  it.each([1, 2, 3, 7, 64, 1000])('gives the same records whatever the chunks (%i bytes each)', (size) => {
    const bytes = Buffer.from(whole);
    const parser = new PackagesParser('r');
    for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
    expect(plain(parser.end())).toStrictEqual(plain(parsePackages(whole, 'r')));
  });

  it('keeps a multi-byte character split between chunks', () => {
    const text = HELLO.replace('Section: devel', 'Section: dévél');
    const bytes = Buffer.from(text);
    const at = bytes.indexOf(Buffer.from('é')) + 1;
    const parser = new PackagesParser('r');
    parser.push(bytes.subarray(0, at));
    parser.push(bytes.subarray(at));
    expect(parser.end()[0]!.section).toBe('dévél');
  });

  it('counts lines across chunks in its errors', () => {
    const parser = new PackagesParser('r');
    parser.push(Buffer.from(`${HELLO}\n`));
    expect(() => parser.push(Buffer.from('not a field\n'))).toThrow(/line 19: "not a field" is neither/);
  });

  it('refuses a line longer than any index has, without keeping it', () => {
    const parser = new PackagesParser('r');
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    expect(() => {
      for (let i = 0; i <= MAX_LINE_BYTES / chunk.length; i++) parser.push(chunk);
    }).toThrow(new RegExp(`line 1: a line longer than ${MAX_LINE_BYTES} bytes`));
  });

  it('leaves out the stanzas `refuse` finds a problem with, naming their line', () => {
    const evil = HELLO.replace('Package: hello', 'Package: evil;reboot').replace('pool/main/h/hello/hello_2.10-3_amd64.deb', '../../etc/passwd.deb');
    const parser = new PackagesParser('r', { refuse: recordProblem });
    parser.push(Buffer.from(`${evil}\n${BASH}`));
    expect(parser.end().map((r) => r.name)).toStrictEqual(['bash']);
    expect(parser.refused).toStrictEqual([
      { line: 1, name: 'evil;reboot', problem: expect.stringMatching(/^Package "evil;reboot" is not a Debian package name/) },
    ]);
  });

  // Many stanzas that repeat relations, names and versions, the way an index does.
  const many = Array.from(
    { length: 300 },
    (_, i) =>
      `Package: p${i}\nVersion: 1.${i % 7}\nArchitecture: ${i % 4 ? 'amd64' : 'all'}\nSource: src${i % 13} (1.${i % 7}-1)\nSection: s${i % 3}\n` +
      `Depends: libc6 (>= 2.${i % 5}), p${(i + 1) % 300} | alt${i % 11}\nProvides: virt${i % 9}\nFilename: pool/p${i}.deb\nSize: ${i + 1}\nSHA256: ${SHA_A}\n`,
  ).join('\n');

  it.each([1, 5, 64, 4096])('gives the same records for a long index fed in %i-byte chunks as fed whole', (size) => {
    const bytes = Buffer.from(many);
    const parser = new PackagesParser('r');
    for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
    const records = parser.end();
    expect(records).toHaveLength(300);
    expect(plain(records)).toStrictEqual(plain(parsePackages(many, 'r')));
    expect(records[299]).toMatchObject({
      name: 'p299',
      version: '1.5',
      source: 'src0',
      section: 's2',
      depends: [[{ name: 'libc6', op: '>=', version: '2.4' }], [{ name: 'p0' }, { name: 'alt2' }]],
    });
  });

  it('shares equal relations and one-alternative clauses among the records of an index', () => {
    const records = parsePackages(many, 'r');
    expect(records[5]!.depends[0]).toBe(records[0]!.depends[0]);
    expect(records[9]!.provides[0]).toBe(records[0]!.provides[0]);
    expect(records[1]!.depends[0]).not.toBe(records[0]!.depends[0]);
    // Each record has a list of its own (records are never mutated, but a list is no shared value).
    expect(records[5]!.depends).not.toBe(records[0]!.depends);
  });

  it('escapes control characters of the index in its messages', () => {
    expect(() => parsePackages(`${HELLO}\nbad \u001b[2J line\n`, 'r')).toThrow(/"bad \\u001b\[2J line" is neither/);
  });
});

describe('parsePackages on an index the size of Debian main', () => {
  const COUNT = 65_000;
  // Varied stanzas: every 3rd has alternatives, every 5th Provides, every 7th a folded Depends, every 11th is arch all.
  const stanza = (i: number) => {
    const lines = [`Package: pkg${i}`, `Version: 1:${i}.0-${i % 9}`, `Architecture: ${i % 11 === 0 ? 'all' : 'amd64'}`];
    lines.push(`Maintainer: Team ${i} <team${i}@example.org>`, `Description: package number ${i}`);
    const dep = i % 3 === 0 ? `libc6 (>= 2.36), pkg${i + 1} | alt${i}` : `libc6 (>= 2.36)`;
    lines.push(i % 7 === 0 ? `Depends: ${dep},\n pkg${i + 2} (<< ${i}~)` : `Depends: ${dep}`);
    if (i % 5 === 0) lines.push(`Provides: virt${i % 100} (= ${i})`);
    const hash = (i.toString(16).padStart(8, '0') + 'f'.repeat(56)).slice(0, 64);
    lines.push(`Filename: pool/main/p/pkg${i}/pkg${i}_${i}.0_amd64.deb`, `Size: ${1000 + i}`, `SHA256: ${hash}`);
    return `${lines.join('\n')}\n`;
  };
  const text = Array.from({ length: COUNT }, (_, i) => stanza(i)).join('\n');

  it('returns one record per stanza with the right values throughout', () => {
    const records = parsePackages(text, 'big');
    expect(records).toHaveLength(COUNT);
    expect(records[0]).toMatchObject({
      name: 'pkg0',
      version: '1:0.0-0',
      architecture: 'all',
      size: 1000,
      provides: [{ name: 'virt0', op: '=', version: '0' }],
    });
    expect(records[0]!.depends).toStrictEqual([
      [{ name: 'libc6', op: '>=', version: '2.36' }],
      [{ name: 'pkg1' }, { name: 'alt0' }],
      [{ name: 'pkg2', op: '<<', version: '0~' }],
    ]);
    expect(records[12_345]).toMatchObject({
      name: 'pkg12345',
      version: '1:12345.0-6',
      architecture: 'amd64',
      size: 13_345,
      filename: 'pool/main/p/pkg12345/pkg12345_12345.0_amd64.deb',
    });
    expect(records[12_345]!.provides).toStrictEqual([{ name: 'virt45', op: '=', version: '12345' }]);
    expect(records[12_345]!.sha256).toBe(`00003039${'f'.repeat(56)}`);
    expect(records[COUNT - 1]).toMatchObject({ name: 'pkg64999', version: '1:64999.0-1', size: 65_999, repository: 'big' });
    expect(records[COUNT - 2]!.depends).toStrictEqual([[{ name: 'libc6', op: '>=', version: '2.36' }], [{ name: 'pkg64999' }, { name: 'alt64998' }]]);
    expect(records.filter((r) => r.provides.length > 0)).toHaveLength(COUNT / 5);
    expect(records.filter((r) => r.depends.length === 3)).toHaveLength(Math.ceil(COUNT / 21));
  });
});
