// The image SBOM: the document collectSbom builds from a root filesystem's
// dpkg database, copyright files and the lock; its identifiers, package URLs,
// deterministic rendering, the check against the lock and SPDX 2.3 validity.
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { LocalRunner } from '../../src/docker/runner.js';
import { collectSbom, debPurl, renderSbom, type SpdxDocument, sbomSummary, spdxIdPart, supplierOf } from '../../src/compose/outputs/sbom.js';
import { StepError, UserError } from '../../src/errors.js';
import type { LockedPackage, LockFile } from '../../src/lock/types.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-sbom-');

const SCHEMA = JSON.parse(await readFile(new URL('../support/spdx-2.3-schema.json', import.meta.url), 'utf8'));
const validate = new Ajv({ allErrors: true }).compile(SCHEMA);

function pkg(name: string, version: string, architecture = 'amd64'): LockedPackage {
  return {
    name,
    version,
    architecture,
    filename: `pool/main/${name[0]}/${name}/${name}_${version.replace(/^\d+:/, '')}_${architecture}.deb`,
    size: 1000,
    sha256: createHash('sha256').update(`${name} ${version} ${architecture}`).digest('hex'),
    repository: 'main',
  };
}

function lockOf(packages: LockedPackage[]): LockFile {
  const request = { providerId: 'debian13-amd64', arch: 'amd64', repositories: [], packages: [], tools: [] };
  const set = { requested: [], base: 'essential' as const, baseSet: [], packages, installOrder: packages.map((p) => p.name) };
  return {
    lockVersion: 1,
    target: 'minimal',
    providerId: 'debian13-amd64',
    arch: 'amd64',
    requestDigest: 'r',
    request,
    repositories: [],
    image: set,
    tools: { ...set, packages: [] },
  };
}

interface Entry {
  name: string;
  version: string;
  arch?: string;
  state?: string;
  fields?: Record<string, string>;
}

function status(entries: Entry[]): string {
  const stanza = (e: Entry) =>
    [
      `Package: ${e.name}`,
      `Status: install ok ${e.state ?? 'installed'}`,
      ...Object.entries(e.fields ?? {}).map(([k, v]) => `${k}: ${v}`),
      `Architecture: ${e.arch ?? 'amd64'}`,
      `Version: ${e.version}`,
      `Description: the ${e.name} package`,
      ' Maintainer: not a field of this stanza.',
      ' .',
      ' More text.',
    ].join('\n');
  return `${entries.map(stanza).join('\n\n')}\n`;
}

const dep5 = (license: string) => `Format: https://format.example.invalid/copyright-format/1.0/\n\nFiles: *\nCopyright: someone\nLicense: ${license}\n`;

/** A root filesystem with a dpkg status file and copyright files (text, or a link to another package's doc directory). */
async function rootfs(entries: Entry[], docs: Record<string, string | { link: string }>): Promise<string> {
  const root = await tempDir();
  await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
  await writeFile(path.join(root, 'var/lib/dpkg/status'), status(entries));
  const docDir = path.join(root, 'usr/share/doc');
  await mkdir(docDir, { recursive: true });
  for (const [name, doc] of Object.entries(docs)) {
    if (typeof doc === 'string') {
      await mkdir(path.join(docDir, name));
      await writeFile(path.join(docDir, name, 'copyright'), doc);
    } else {
      await symlink(doc.link, path.join(docDir, name));
    }
  }
  return root;
}

const ENTRIES: Entry[] = [
  {
    name: 'zlib1g',
    version: '1:1.3.dfsg-3+b1',
    fields: { Maintainer: 'Mark Brown <broonie@example.invalid>', Source: 'zlib (1:1.3.dfsg-3)', Homepage: 'https://zlib.example.invalid/' },
  },
  { name: 'bash', version: '5.2.37-2', fields: { Maintainer: 'Matthias Klose <doko@example.invalid>' } },
  { name: 'libstdc++6', version: '14.2.0-19' },
  { name: 'libstdcplusplus6', version: '1.0-1' },
  { name: 'libc6', version: '2.41-7', arch: 'i386' },
  { name: 'libc6', version: '2.41-7' },
  { name: 'tzdata', version: '2025b-4', arch: 'all' },
  { name: 'oldpkg', version: '1.0', state: 'config-files' },
];
const LOCK = lockOf([
  pkg('bash', '5.2.37-2'),
  pkg('libc6', '2.41-7'),
  pkg('libc6', '2.41-7', 'i386'),
  pkg('libstdc++6', '14.2.0-19'),
  pkg('libstdcplusplus6', '1.0-1'),
  pkg('tzdata', '2025b-4', 'all'),
  pkg('zlib1g', '1:1.3.dfsg-3+b1'),
]);
const DOCS = {
  bash: dep5('GPL-3+'),
  'gcc-14-base': dep5('GPL-3+ with GCC-3.1 exception'),
  'libstdc++6': { link: 'gcc-14-base' },
  libc6: dep5('LGPL-2.1+ or public-domain'),
  tzdata: dep5('public-domain'),
  zlib1g: 'This is not a machine-readable copyright file.\n',
};
const OPTIONS = { lock: LOCK, image: { name: 'edge-node', version: '1.2.0' }, created: new Date(1_700_000_000_000), toolVersion: '0.1.0' };

async function collect(entries = ENTRIES, docs: Record<string, string | { link: string }> = DOCS, lock = LOCK): Promise<SpdxDocument> {
  return collectSbom(new LocalRunner(), { ...OPTIONS, lock, rootfs: await rootfs(entries, docs) });
}

const byName = (doc: SpdxDocument, name: string, arch = 'amd64') =>
  doc.packages.find((p) => p.name === name && p.externalRefs?.[0]?.referenceLocator.endsWith(`?arch=${arch}`));

describe('debPurl', () => {
  it.each([
    ['bash', '5.2.37-2', 'amd64', 'pkg:deb/debian/bash@5.2.37-2?arch=amd64'],
    ['zlib1g', '1:1.3.dfsg-3+b1', 'amd64', 'pkg:deb/debian/zlib1g@1%3A1.3.dfsg-3%2Bb1?arch=amd64'],
    ['libstdc++6', '14.2.0-19', 'amd64', 'pkg:deb/debian/libstdc%2B%2B6@14.2.0-19?arch=amd64'],
    ['gnupg', '2.4.7~rc1-1', 'all', 'pkg:deb/debian/gnupg@2.4.7~rc1-1?arch=all'],
  ])('names %s %s on %s as %s', (name, version, arch, purl) => {
    expect(debPurl(name, version, arch)).toBe(purl);
  });
});

describe('spdxIdPart and supplierOf', () => {
  it.each([
    ['bash', 'bash'],
    ['libstdc++6', 'libstdcplusplus6'],
    ['python3.11', 'python3.11'],
    ['a_b:c', 'a-b-c'],
  ])('makes %s the SPDXID part %s', (name, part) => {
    expect(spdxIdPart(name)).toBe(part);
    expect(spdxIdPart(name)).toMatch(/^[A-Za-z0-9.-]+$/);
  });

  it.each([
    ['Matthias Klose <doko@example.invalid>', 'Organization: Matthias Klose (doko@example.invalid)'],
    ['Debian QA Group', 'Organization: Debian QA Group'],
  ])('turns the maintainer %j into %j', (maintainer, supplier) => {
    expect(supplierOf(maintainer)).toBe(supplier);
  });
});

describe('collectSbom', () => {
  it('describes the image, which contains each installed package sorted by name then architecture', async () => {
    const doc = await collect();
    expect(doc).toMatchObject({ spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: 'edge-node-1.2.0' });
    expect(doc.creationInfo).toEqual({ created: '2023-11-14T22:13:20Z', creators: ['Tool: g3-composer-0.1.0'] });
    expect(doc.documentNamespace).toMatch(/^https:\/\/g3-composer\.invalid\/spdx\/edge-node-1\.2\.0-[0-9a-f]{64}$/);
    expect(doc.packages[0]).toMatchObject({
      SPDXID: 'SPDXRef-Image-edge-node',
      name: 'edge-node',
      versionInfo: '1.2.0',
      primaryPackagePurpose: 'OPERATING_SYSTEM',
    });
    expect(doc.packages.slice(1).map((p) => p.SPDXID)).toEqual([
      'SPDXRef-Package-bash-amd64',
      'SPDXRef-Package-libc6-amd64',
      'SPDXRef-Package-libc6-i386',
      'SPDXRef-Package-libstdcplusplus6-amd64',
      'SPDXRef-Package-libstdcplusplus6-amd64-2',
      'SPDXRef-Package-tzdata-all',
      'SPDXRef-Package-zlib1g-amd64',
    ]);
    expect(doc.relationships[0]).toEqual({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image-edge-node' });
    expect(doc.relationships.slice(1)).toEqual(
      doc.packages.slice(1).map((p) => ({ spdxElementId: 'SPDXRef-Image-edge-node', relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
    );
  });

  it('takes version and SHA256 from the lock and maintainer, homepage and source from the dpkg database', async () => {
    const doc = await collect();
    const locked = LOCK.image.packages.find((p) => p.name === 'zlib1g');
    expect(byName(doc, 'zlib1g')).toEqual({
      SPDXID: 'SPDXRef-Package-zlib1g-amd64',
      name: 'zlib1g',
      versionInfo: '1:1.3.dfsg-3+b1',
      packageFileName: 'zlib1g_1.3.dfsg-3+b1_amd64.deb',
      supplier: 'Organization: Mark Brown (broonie@example.invalid)',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      homepage: 'https://zlib.example.invalid/',
      sourceInfo: 'built from the Debian source package zlib (1:1.3.dfsg-3)',
      checksums: [{ algorithm: 'SHA256', checksumValue: locked?.sha256 }],
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:deb/debian/zlib1g@1%3A1.3.dfsg-3%2Bb1?arch=amd64' }],
    });
    expect(byName(doc, 'libstdc++6')).not.toHaveProperty('supplier');
  });

  it.each([
    ['bash', 'amd64', 'GPL-3.0-or-later'],
    ['libstdc++6', 'amd64', 'GPL-3.0-or-later WITH GCC-exception-3.1'],
    ['libc6', 'i386', 'LGPL-2.1-or-later OR LicenseRef-public-domain'],
    ['tzdata', 'all', 'LicenseRef-public-domain'],
    ['zlib1g', 'amd64', 'NOASSERTION'],
    ['libstdcplusplus6', 'amd64', 'NOASSERTION'],
  ])('declares the licence of %s (%s) as %s', async (name, arch, license) => {
    expect(byName(await collect(), name, arch)?.licenseDeclared).toBe(license);
  });

  it('defines each LicenseRef once, naming the packages when they give no text', async () => {
    const doc = await collect();
    expect(doc.hasExtractedLicensingInfos).toEqual([
      {
        licenseId: 'LicenseRef-public-domain',
        name: 'public-domain',
        extractedText:
          'The licence named "public-domain" in the Debian copyright files of: libc6, tzdata. Its text is in /usr/share/doc/<package>/copyright in the image.',
      },
    ]);
  });

  it('uses a LicenseRef text when every package that names it gives the same one', async () => {
    const withText = `${dep5('other')}\nLicense: other\n Do what you like.\n`;
    const doc = await collect(
      [
        { name: 'a', version: '1' },
        { name: 'b', version: '1' },
      ],
      { a: withText, b: withText },
      lockOf([pkg('a', '1'), pkg('b', '1')]),
    );
    expect(doc.hasExtractedLicensingInfos).toEqual([{ licenseId: 'LicenseRef-other', name: 'other', extractedText: 'Do what you like.' }]);
  });

  it('has no hasExtractedLicensingInfos when every licence has an SPDX identifier', async () => {
    const doc = await collect([{ name: 'a', version: '1' }], { a: dep5('MIT') }, lockOf([pkg('a', '1')]));
    expect(doc).not.toHaveProperty('hasExtractedLicensingInfos');
  });

  it('is valid against the SPDX 2.3 JSON schema', async () => {
    const doc = await collect();
    expect(validate(JSON.parse(renderSbom(doc))), JSON.stringify(validate.errors)).toBe(true);
  });

  it('fails schema validation for a document missing a required field (the check can fail)', async () => {
    const { creationInfo: _dropped, ...rest } = await collect();
    expect(validate(rest)).toBe(false);
  });

  it.each([
    ['a version the lock does not have', [pkg('bash', '5.2.37-1')], /bash:amd64 is 5\.2\.37-2 in the image, the lock says 5\.2\.37-1/],
    ['a package the lock does not have', [], /bash:amd64 5\.2\.37-2 is installed but not in the lock/],
    ['a package for another architecture', [pkg('bash', '5.2.37-2', 'arm64')], /bash:amd64 5\.2\.37-2 is installed but not in the lock/],
  ])('refuses %s rather than invent a checksum', async (_label, locked, message) => {
    const err = await collect([{ name: 'bash', version: '5.2.37-2' }], {}, lockOf(locked)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/Build the image again from this lock/);
  });

  it('refuses a package dpkg left half-configured', async () => {
    const err = await collect([{ name: 'bash', version: '1', state: 'half-configured' }], {}, lockOf([pkg('bash', '1')])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(/bash:amd64 is half-configured/);
  });

  it('leaves out purged packages dpkg still remembers', async () => {
    const doc = await collect();
    expect(doc.packages.map((p) => p.name)).not.toContain('oldpkg');
  });

  it('names the status file when the root filesystem has no dpkg database', async () => {
    const root = await tempDir();
    const err = await collectSbom(new LocalRunner(), { ...OPTIONS, rootfs: root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toContain(path.join(root, 'var/lib/dpkg/status'));
  });

  it('rejects an invalid creation time as bad input', async () => {
    const err = await collectSbom(new LocalRunner(), { ...OPTIONS, created: new Date(Number.NaN), rootfs: await tempDir() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).hint).toMatch(/SOURCE_DATE_EPOCH/);
  });
});

describe('renderSbom', () => {
  it('renders the same bytes for the same image, lock and time, whatever the order of the lock and status file', async () => {
    const first = renderSbom(await collect());
    const shuffled = lockOf([...LOCK.image.packages].reverse());
    const second = renderSbom(await collect([...ENTRIES].reverse(), DOCS, shuffled));
    expect(second).toBe(first);
  });

  it('writes two-space JSON with a final newline and the document fields first', async () => {
    const text = renderSbom(await collect());
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n').slice(0, 5)).toEqual([
      '{',
      '  "spdxVersion": "SPDX-2.3",',
      '  "dataLicense": "CC0-1.0",',
      '  "SPDXID": "SPDXRef-DOCUMENT",',
      '  "name": "edge-node-1.2.0",',
    ]);
  });

  it('gives a different namespace for a different package set', async () => {
    const a = await collect([{ name: 'a', version: '1' }], {}, lockOf([pkg('a', '1')]));
    const b = await collect([{ name: 'a', version: '2' }], {}, lockOf([pkg('a', '2')]));
    expect(a.documentNamespace).not.toBe(b.documentNamespace);
  });
});

describe('sbomSummary', () => {
  it('counts the image packages and how many declare a licence, leaving out the image itself', async () => {
    expect(sbomSummary(await collect())).toEqual({ packages: 7, licensed: 5, noAssertion: 2 });
  });
});
