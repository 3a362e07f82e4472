// Licences from Debian copyright files: the machine-readable (DEP-5) parser,
// the Debian short name → SPDX mapping, license expressions and reading every
// package's copyright file with one command.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyrightOf, declaredLicense, dep5ToSpdx, licenseRefId, parseDep5, parseDocDump, readDocDirs, spdxIdFor } from '../../src/compose/outputs/licenses.js';
import { LocalRunner } from '../../src/docker/runner.js';
import { StepError } from '../../src/errors.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-licenses-');

const DEP5 = `Format: https://format.example.invalid/copyright-format/1.0/
Upstream-Name: frob
Source: https://frob.example.invalid/

Files: *
Copyright: 2001-2024 Frob Authors
License: GPL-2+ or Artistic

Files: lib/*
  lib/extra/*
Copyright: 2010 Someone
	2011 Someone Else
License: BSD-3-clause

Files: debian/*
Copyright: 2020 A Maintainer
License: GPL-2+ or Artistic

Files: data/*
Copyright: none
License: other
 You may use these data files for anything.
 .
 Really anything.

License: BSD-3-clause
 Redistribution and use in source and binary forms, with or without
 modification, are permitted...

License: GPL-2+
 On Debian systems, the full text is in /usr/share/common-licenses/GPL-2.
`;

describe('parseDep5', () => {
  it('collects the License lines of every Files paragraph in file order without repeats', () => {
    expect(parseDep5(DEP5)?.synopses).toEqual(['GPL-2+ or Artistic', 'BSD-3-clause', 'other']);
  });

  it('keeps licence texts by lower-cased short name, " ." continuation lines becoming blank lines', () => {
    const texts = parseDep5(DEP5)?.texts;
    expect(texts?.get('other')).toBe('You may use these data files for anything.\n\nReally anything.');
    expect(texts?.get('bsd-3-clause')).toMatch(/^Redistribution and use/);
    expect(texts?.get('gpl-2+')).toMatch(/common-licenses\/GPL-2\.$/);
  });

  it('does not count stand-alone License paragraphs as licences of the package', () => {
    const only = `Format: https://format.example.invalid/copyright-format/1.0/\n\nFiles: *\nCopyright: x\nLicense: MIT\n\nLicense: Zlib\n text\n`;
    expect(parseDep5(only)?.synopses).toEqual(['MIT']);
  });

  it('counts a License in the header paragraph', () => {
    expect(parseDep5('Format: https://x.invalid/copyright-format/1.0/\nLicense: ISC\n\nFiles: *\nCopyright: y\nLicense: MIT\n')?.synopses).toEqual([
      'ISC',
      'MIT',
    ]);
  });

  it.each([
    ['Windows line ends', DEP5.replace(/\n/g, '\r\n')],
    ['a draft Format-Specification header', DEP5.replace(/^Format:/, 'Format-Specification:')],
    ['blank lines before the header', `\n\n${DEP5}`],
  ])('reads a file with %s', (_label, text) => {
    expect(parseDep5(text)?.synopses).toEqual(['GPL-2+ or Artistic', 'BSD-3-clause', 'other']);
  });

  it.each([
    ['free-form text', 'This package was debianized by someone.\n\nLicense: GPL-2\n'],
    ['a header without Format', 'Upstream-Name: x\n\nFiles: *\nLicense: MIT\n'],
    ['an empty file', ''],
  ])('is undefined for %s', (_label, text) => {
    expect(parseDep5(text)).toBeUndefined();
  });
});

describe('spdxIdFor', () => {
  it.each([
    ['GPL-2', 'GPL-2.0-only'],
    ['GPL-2+', 'GPL-2.0-or-later'],
    ['GPL-2.0+', 'GPL-2.0-or-later'],
    ['GPLv3+', 'GPL-3.0-or-later'],
    ['GPL-3', 'GPL-3.0-only'],
    ['GPL', 'GPL-1.0-or-later'],
    ['GPL-1+', 'GPL-1.0-or-later'],
    ['LGPL-2', 'LGPL-2.0-only'],
    ['LGPL-2+', 'LGPL-2.0-or-later'],
    ['LGPL-2.1+', 'LGPL-2.1-or-later'],
    ['LGPLv2.1+', 'LGPL-2.1-or-later'],
    ['LGPL-3+', 'LGPL-3.0-or-later'],
    ['LGPL', 'LGPL-2.0-or-later'],
    ['AGPL-3+', 'AGPL-3.0-or-later'],
    ['GPL-2.0-or-later', 'GPL-2.0-or-later'],
    ['gpl-3.0-only', 'GPL-3.0-only'],
    ['GFDL-1.3+', 'GFDL-1.3-or-later'],
    ['GFDL-NIV-1.2', 'GFDL-1.2-no-invariants-only'],
    ['Expat', 'MIT'],
    ['MIT', 'MIT'],
    ['BSD-2-clause', 'BSD-2-Clause'],
    ['BSD-3-clause', 'BSD-3-Clause'],
    ['BSD-4-clause', 'BSD-4-Clause'],
    ['Apache-2.0', 'Apache-2.0'],
    ['Apache-2', 'Apache-2.0'],
    ['Apache-2.0+', 'Apache-2.0+'],
    ['Artistic', 'Artistic-1.0-Perl'],
    ['Artistic-2.0', 'Artistic-2.0'],
    ['Perl', 'Artistic-1.0-Perl OR GPL-1.0-or-later'],
    ['ISC', 'ISC'],
    ['Zlib', 'Zlib'],
    ['zlib', 'Zlib'],
    ['CC0-1.0', 'CC0-1.0'],
    ['CC0', 'CC0-1.0'],
    ['MPL-2.0', 'MPL-2.0'],
    ['BSL-1.0', 'BSL-1.0'],
    ['curl', 'curl'],
    ['X11', 'X11'],
    ['FSFAP', 'FSFAP'],
    ['GAP', 'FSFAP'],
    ['SIL-OFL-1.1', 'OFL-1.1'],
    ['PSF-2', 'PSF-2.0'],
    ['OpenLDAP-2.8', 'OLDAP-2.8'],
  ])('maps %s to %s', (name, id) => {
    expect(spdxIdFor(name)).toBe(id);
  });

  it.each(['public-domain', 'permissive', 'other', 'GPL-4', 'LGPL-1', 'AGPL', 'BSD-like', 'Unicode'])('has no SPDX identifier for %s', (name) => {
    expect(spdxIdFor(name)).toBeUndefined();
  });
});

describe('licenseRefId', () => {
  it.each([
    ['public-domain', 'LicenseRef-public-domain'],
    ['public domain', 'LicenseRef-public-domain'],
    ['Public-Domain', 'LicenseRef-public-domain'],
    ['GAP~Makefile.in', 'LicenseRef-gap-makefile.in'],
    ['GPL-2+ with OpenSSL exception', 'LicenseRef-gpl-2-plus-with-openssl-exception'],
    ['--', 'LicenseRef-unnamed'],
  ])('names %j %s', (name, id) => {
    expect(licenseRefId(name)).toBe(id);
  });

  it('keeps only letters, digits, "." and "-" and at most 64 of them', () => {
    const id = licenseRefId(`Permission is hereby granted, free of charge, to any person obtaining a copy (${'x'.repeat(80)})`);
    expect(id).toMatch(/^LicenseRef-[a-z0-9.-]{1,64}$/);
    expect(id.endsWith('-')).toBe(false);
  });
});

describe('dep5ToSpdx', () => {
  it.each([
    ['GPL-2+ or Artistic', 'GPL-2.0-or-later OR Artistic-1.0-Perl'],
    ['GPL-1+ or Artistic', 'GPL-1.0-or-later OR Artistic-1.0-Perl'],
    ['LGPL-3+ or GPL-2+', 'LGPL-3.0-or-later OR GPL-2.0-or-later'],
    ['GPL-2+ OR BSD-3-clause', 'GPL-2.0-or-later OR BSD-3-Clause'],
    ['MIT or ISC and Zlib', 'MIT OR ISC AND Zlib'],
    ['GPL-2+ or Artistic-2.0, and BSD-3-clause', '(GPL-2.0-or-later OR Artistic-2.0) AND BSD-3-Clause'],
    ['MIT, or GPL-2 and BSD-3-clause', 'MIT OR (GPL-2.0-only AND BSD-3-Clause)'],
    ['BSD-3-clause, GPL-2', 'BSD-3-Clause AND GPL-2.0-only'],
    ['Perl and MIT', '(Artistic-1.0-Perl OR GPL-1.0-or-later) AND MIT'],
    ['GPL-2+ with Font exception', 'GPL-2.0-or-later WITH Font-exception-2.0'],
    ['GPL-3+ with GCC-3.1 exception or MIT', 'GPL-3.0-or-later WITH GCC-exception-3.1 OR MIT'],
    ['GPL-2+ with OpenSSL exception', 'LicenseRef-gpl-2-plus-with-openssl-exception'],
    ['GPL-2+ with Autoconf exception', 'GPL-2.0-or-later WITH Autoconf-exception-2.0'],
    ['GPL-3+ with Autoconf exception', 'GPL-3.0-or-later WITH Autoconf-exception-3.0'],
    ['Perl with Font exception', 'LicenseRef-perl-with-font-exception'],
    ['public-domain', 'LicenseRef-public-domain'],
    ['Expat or public-domain', 'MIT OR LicenseRef-public-domain'],
    ['  MIT  ', 'MIT'],
    ['MIT or', 'MIT'],
    ['or MIT', 'MIT'],
  ])('turns %j into %j', (synopsis, expression) => {
    expect(dep5ToSpdx(synopsis).expression).toBe(expression);
  });

  it('lists each LicenseRef once with the name the file used', () => {
    expect(dep5ToSpdx('public-domain or public-domain and other').refs).toEqual([
      { id: 'LicenseRef-public-domain', name: 'public-domain' },
      { id: 'LicenseRef-other', name: 'other' },
    ]);
  });

  it('makes prose in place of a short name one LicenseRef', () => {
    const r = dep5ToSpdx('Permission to use, copy, modify, and distribute this software and its');
    expect(r.refs).toHaveLength(1);
    expect(r.expression).toBe(r.refs[0]?.id);
    expect(r.expression).toMatch(/^LicenseRef-permission-to-use-copy-modify/);
  });

  it('is NOASSERTION for an empty synopsis', () => {
    expect(dep5ToSpdx('  ')).toEqual({ expression: 'NOASSERTION', refs: [] });
  });
});

describe('declaredLicense', () => {
  it('joins the distinct licences of a package with AND', () => {
    const d = declaredLicense(DEP5);
    expect(d.expression).toBe('(GPL-2.0-or-later OR Artistic-1.0-Perl) AND BSD-3-Clause AND LicenseRef-other');
    expect(d.refs).toEqual([{ id: 'LicenseRef-other', name: 'other' }]);
    expect(d.texts.get('other')).toMatch(/^You may use/);
  });

  it('lists a licence once when it appears alone and inside an "and"', () => {
    const text =
      'Format: https://x.invalid/copyright-format/1.0/\n\nFiles: a\nLicense: GPL-2+ and LGPL-2.1+\n\nFiles: b\nLicense: GPL-2+\n\nFiles: c\nLicense: MIT or GPL-2+, and LGPL-2.1+\n';
    expect(declaredLicense(text).expression).toBe('GPL-2.0-or-later AND LGPL-2.1-or-later AND (MIT OR GPL-2.0-or-later)');
  });

  it('does not repeat a licence that two synopses map to', () => {
    const text = 'Format: https://x.invalid/copyright-format/1.0/\n\nFiles: a\nLicense: Expat\n\nFiles: b\nLicense: MIT\n';
    expect(declaredLicense(text).expression).toBe('MIT');
  });

  it.each([
    ['no copyright file', undefined],
    ['a copyright file that is not machine-readable', 'Copyright 2001 Someone.\nLicense: GPL-2\n'],
    ['a machine-readable file without License fields', 'Format: https://x.invalid/copyright-format/1.0/\n\nFiles: *\nCopyright: x\n'],
  ])('is NOASSERTION for %s', (_label, text) => {
    expect(declaredLicense(text)).toMatchObject({ expression: 'NOASSERTION', refs: [] });
  });
});

describe('copyrightOf', () => {
  const docs = {
    files: new Map([
      ['gcc-12-base', 'GCC'],
      ['python3.11', 'PY'],
    ]),
    links: new Map([
      ['libasan8', 'gcc-12-base'],
      ['python3.11-venv', '/usr/share/doc/python3.11'],
      ['g++', 'cpp'],
      ['cpp', '../doc/gcc-12-base'],
      ['escape', '/etc'],
      ['up', '../../../etc/shadow'],
      ['loop-a', 'loop-b'],
      ['loop-b', 'loop-a'],
    ]),
  };

  it.each([
    ['its own directory', 'gcc-12-base', 'GCC'],
    ['a relative link to another package', 'libasan8', 'GCC'],
    ['an absolute link inside the image', 'python3.11-venv', 'PY'],
    ['a chain of links', 'g++', 'GCC'],
  ])('reads %s', (_label, name, text) => {
    expect(copyrightOf(docs, name)).toBe(text);
  });

  it.each([
    ['no directory', 'absent'],
    ['a link out of /usr/share/doc', 'escape'],
    ['a relative link that climbs out', 'up'],
    ['a link loop', 'loop-a'],
  ])('is undefined for %s', (_label, name) => {
    expect(copyrightOf(docs, name)).toBeUndefined();
  });
});

describe('parseDocDump', () => {
  it('reads link and file records', () => {
    const d = parseDocDump('L\0a\0b\0F\0b\0text\nmore\n\0');
    expect([...d.links]).toEqual([['a', 'b']]);
    expect([...d.files]).toEqual([['b', 'text\nmore\n']]);
  });

  it('rejects a record it does not know as a failed step', () => {
    expect(() => parseDocDump('X\0a\0b\0')).toThrow(StepError);
  });
});

describe('readDocDirs', () => {
  it('reads every regular copyright file and reports linked directories without following them', async () => {
    const root = await tempDir();
    const doc = path.join(root, 'usr/share/doc');
    await mkdir(path.join(doc, 'bash'), { recursive: true });
    await writeFile(path.join(doc, 'bash/copyright'), 'Format: x\n\nFiles: *\nLicense: GPL-3+\n');
    await mkdir(path.join(doc, 'name with space'));
    await writeFile(path.join(doc, 'name with space/copyright'), 'spaced\n');
    await mkdir(path.join(doc, 'no-copyright'));
    await symlink('bash', path.join(doc, 'bash-static'));
    await mkdir(path.join(doc, 'sneaky'));
    await symlink('/etc/hostname', path.join(doc, 'sneaky/copyright'));
    await mkdir(path.join(doc, '.hidden'));
    await writeFile(path.join(doc, '.hidden/copyright'), 'not a package\n');
    await mkdir(path.join(doc, 'caf\u00e9'));
    await writeFile(path.join(doc, 'caf\u00e9/copyright'), 'Copyright: \u00a9 \u00e9t\u00e9\n');
    await mkdir(path.join(doc, 'dir-copyright/copyright'), { recursive: true });
    await writeFile(path.join(doc, 'README'), 'a file, not a directory\n');
    const docs = await readDocDirs(new LocalRunner(), root);
    expect([...docs.files.keys()].sort()).toEqual(['bash', 'caf\u00e9', 'name with space']);
    expect(docs.files.get('name with space')).toBe('spaced\n');
    expect(docs.files.get('caf\u00e9')).toBe('Copyright: \u00a9 \u00e9t\u00e9\n');
    expect([...docs.links]).toEqual([['bash-static', 'bash']]);
    expect(copyrightOf(docs, 'bash-static')).toMatch(/GPL-3\+/);
  });

  it('finds nothing when the image has no /usr/share/doc', async () => {
    const docs = await readDocDirs(new LocalRunner(), await tempDir());
    expect(docs.files.size + docs.links.size).toBe(0);
  });
});
