// The image SBOM from a real root filesystem: real .deb files built with
// dpkg-deb and installed with `dpkg --root`, so the status database and the
// copyright files are dpkg's own; the document is checked against the official
// SPDX 2.3 JSON schema and every package against the lock.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { LocalRunner } from '../../src/docker/runner.js';
import { collectSbom, renderSbom, sbomSummary } from '../../src/compose/outputs/sbom.js';
import { parseDpkgStatus } from '../../src/deb/status.js';
import { StepError } from '../../src/errors.js';
import { run } from '../../src/exec.js';
import type { LockedPackage, LockFile } from '../../src/lock/types.js';
import { buildDeb, debFileName, type FixturePackage, poolDir } from '../support/debrepo-deb.js';
import { useTempDirs } from '../unit/tmpdir.js';

const tempDir = useTempDirs('g3-sbom-itest-');

// The official SPDX 2.3 JSON schema (spdx/spdx-spec, schemas/spdx-schema-2-3.json), kept in the repository so validation needs no network.
const SCHEMA = JSON.parse(await readFile(new URL('../support/spdx-2.3-schema.json', import.meta.url), 'utf8'));
const validate = new Ajv({ allErrors: true }).compile(SCHEMA);

const FORMAT = 'Format: https://format.example.invalid/copyright-format/1.0/';

const PACKAGES: FixturePackage[] = [
  {
    name: 'sbom-tool',
    version: '1:2.0-1',
    files: {
      'usr/bin/sbom-tool': '#!/bin/sh\necho tool\n',
      'usr/share/doc/sbom-tool/copyright': `${FORMAT}\nUpstream-Name: sbom-tool\n\nFiles: *\nCopyright: 2024 Tool Authors\nLicense: GPL-2+ or Artistic-2.0, and BSD-3-clause\n\nFiles: contrib/*\nCopyright: 2023 Someone\nLicense: other\n\nLicense: other\n Use it as you like.\n .\n No warranty.\n`,
    },
  },
  {
    name: 'libsbom++1',
    version: '1.0~rc1-2',
    files: {
      'usr/lib/libsbom++.so.1': 'not really a library\n',
      'usr/share/doc/libsbom++1/copyright': `${FORMAT}\n\nFiles: *\nCopyright: 2022 Lib Authors\nLicense: Expat\n\nFiles: tables/*\nCopyright: none\nLicense: public-domain\n`,
    },
  },
  {
    name: 'sbom-data',
    version: '2024.1-1',
    arch: 'all',
    files: { 'usr/share/sbom-data/table': 'data\n', 'usr/share/doc/sbom-data/copyright': 'This package was put together by hand.\nIt is free software.\n' },
  },
  // Its documentation directory is a link to another package's, as dh_installdocs --link-doc makes.
  { name: 'sbom-tool-extra', version: '1:2.0-1', depends: 'sbom-tool' },
];

/** A root filesystem with PACKAGES installed by dpkg, and the lock that names their .deb files. */
async function installedImage(): Promise<{ rootfs: string; lock: LockFile }> {
  const work = await tempDir();
  const rootfs = path.join(work, 'rootfs');
  for (const d of ['info', 'updates', 'triggers']) await mkdir(path.join(rootfs, 'var/lib/dpkg', d), { recursive: true });
  await writeFile(path.join(rootfs, 'var/lib/dpkg/status'), '');
  const locked: LockedPackage[] = [];
  const files: string[] = [];
  for (const p of PACKAGES) {
    const deb = await buildDeb(path.join(work, 'debs'), p);
    files.push(deb.file);
    const architecture = p.arch ?? 'amd64';
    locked.push({
      name: p.name,
      version: p.version,
      architecture,
      filename: `${poolDir('main', p)}/${debFileName(p)}`,
      size: deb.size,
      sha256: deb.sha256,
      repository: 'main',
    });
  }
  await run(
    { command: 'dpkg', args: [`--root=${rootfs}`, '--log=/dev/null', '--force-not-root', '--force-architecture', '--install', ...files] },
    { package: 'dpkg' },
  );
  await symlink('sbom-tool', path.join(rootfs, 'usr/share/doc/sbom-tool-extra'));
  const request = { providerId: 'debian13-amd64', arch: 'amd64', repositories: [], packages: [], tools: [] };
  const image = { requested: PACKAGES.map((p) => p.name), base: 'none' as const, baseSet: [], packages: locked, installOrder: locked.map((p) => p.name) };
  const lock: LockFile = {
    lockVersion: 1,
    target: 'sbom',
    providerId: 'debian13-amd64',
    arch: 'amd64',
    requestDigest: 'r',
    request,
    repositories: [],
    image,
    tools: { ...image, packages: [], requested: [] },
  };
  return { rootfs, lock };
}

const OPTIONS = { image: { name: 'sbom-test', version: '0.3.0' }, created: new Date('2025-01-02T03:04:05Z'), toolVersion: '0.1.0' };

describe('collectSbom on a root filesystem dpkg installed', () => {
  it('lists exactly the packages dpkg installed, each with the locked version and .deb SHA256, valid SPDX 2.3', async () => {
    const { rootfs, lock } = await installedImage();
    const installed = parseDpkgStatus(await readFile(path.join(rootfs, 'var/lib/dpkg/status'), 'utf8')).filter((s) => s.state === 'installed');
    expect(installed.map((s) => s.name).sort()).toEqual(PACKAGES.map((p) => p.name).sort());

    const doc = await collectSbom(new LocalRunner(), { ...OPTIONS, rootfs, lock });
    expect(validate(JSON.parse(renderSbom(doc))), JSON.stringify(validate.errors, null, 2)).toBe(true);

    const described = doc.packages.filter((p) => p.SPDXID.startsWith('SPDXRef-Package-'));
    expect(described.map((p) => p.name)).toEqual(['libsbom++1', 'sbom-data', 'sbom-tool', 'sbom-tool-extra']);
    for (const p of described) {
      const l = lock.image.packages.find((x) => x.name === p.name);
      expect(p.versionInfo).toBe(l?.version);
      expect(p.checksums).toEqual([{ algorithm: 'SHA256', checksumValue: l?.sha256 }]);
      expect(p.packageFileName).toBe(path.posix.basename(l?.filename ?? ''));
      expect(p.supplier).toBe('Organization: g3 fixture (fixture@example.invalid)');
    }
    const contained = doc.relationships.filter((r) => r.relationshipType === 'CONTAINS').map((r) => r.relatedSpdxElement);
    expect(contained).toEqual(described.map((p) => p.SPDXID));
  });

  it('declares the licences of the machine-readable copyright files and NOASSERTION for the others', async () => {
    const { rootfs, lock } = await installedImage();
    const doc = await collectSbom(new LocalRunner(), { ...OPTIONS, rootfs, lock });
    const declared = Object.fromEntries(doc.packages.map((p) => [p.name, p.licenseDeclared]));
    expect(declared).toEqual({
      'sbom-test': 'NOASSERTION',
      'libsbom++1': 'MIT AND LicenseRef-public-domain',
      'sbom-data': 'NOASSERTION',
      'sbom-tool': '(GPL-2.0-or-later OR Artistic-2.0) AND BSD-3-Clause AND LicenseRef-other',
      'sbom-tool-extra': '(GPL-2.0-or-later OR Artistic-2.0) AND BSD-3-Clause AND LicenseRef-other',
    });
    expect(doc.hasExtractedLicensingInfos?.map((e) => e.licenseId)).toEqual(['LicenseRef-other', 'LicenseRef-public-domain']);
    expect(doc.hasExtractedLicensingInfos?.[0]?.extractedText).toBe('Use it as you like.\n\nNo warranty.');
    // Every LicenseRef an expression uses is defined, and none is defined unused.
    const used = new Set(doc.packages.flatMap((p) => p.licenseDeclared.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? []));
    expect([...used].sort()).toEqual(doc.hasExtractedLicensingInfos?.map((e) => e.licenseId));
    expect(sbomSummary(doc)).toEqual({ packages: 4, licensed: 3, noAssertion: 1 });
    expect(doc.packages.find((p) => p.name === 'libsbom++1')?.externalRefs?.[0]?.referenceLocator).toBe('pkg:deb/debian/libsbom%2B%2B1@1.0~rc1-2?arch=amd64');
    expect(doc.packages.find((p) => p.name === 'sbom-tool')?.externalRefs?.[0]?.referenceLocator).toBe('pkg:deb/debian/sbom-tool@1%3A2.0-1?arch=amd64');
  });

  it('renders the same bytes from two collections of the same image', async () => {
    const { rootfs, lock } = await installedImage();
    const a = renderSbom(await collectSbom(new LocalRunner(), { ...OPTIONS, rootfs, lock }));
    const b = renderSbom(
      await collectSbom(new LocalRunner(), { ...OPTIONS, rootfs, lock: { ...lock, image: { ...lock.image, packages: [...lock.image.packages].reverse() } } }),
    );
    expect(b).toBe(a);
  });

  it('refuses to describe an image whose installed versions differ from the lock', async () => {
    const { rootfs, lock } = await installedImage();
    const stale = lock.image.packages.map((p) => (p.name === 'sbom-data' ? { ...p, version: '2023.9-1' } : p));
    const err = await collectSbom(new LocalRunner(), { ...OPTIONS, rootfs, lock: { ...lock, image: { ...lock.image, packages: stale } } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toContain('sbom-data:all is 2024.1-1 in the image, the lock says 2023.9-1');
  });
});
