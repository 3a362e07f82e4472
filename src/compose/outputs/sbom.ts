// An SPDX 2.3 SBOM of a built image: each package in the image's dpkg database
// with its version, the SHA256 of its .deb from the lock and the licences its
// Debian copyright file declares. The same image, lock and creation time give
// the same bytes, so the SBOM can be compared and signed like the image.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { parseDpkgStatus } from '../../deb/status.js';
import { StepError, UserError } from '../../errors.js';
import type { LockedPackage, LockFile } from '../../lock/types.js';
import { imagePackagesOf } from '../../lock/file.js';
import { copyrightOf, declaredLicense, type LicenseRef, NOASSERTION, readDocDirs } from './licenses.js';
import { readFileIn, type Runner } from '../../docker/runner.js';
import { byCodeUnit } from '../../text/order.js';

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo: string;
  packageFileName?: string;
  supplier?: string;
  downloadLocation: string;
  filesAnalyzed: false;
  homepage?: string;
  sourceInfo?: string;
  checksums?: Array<{ algorithm: 'SHA256'; checksumValue: string }>;
  licenseConcluded: string;
  licenseDeclared: string;
  copyrightText: string;
  externalRefs?: Array<{ referenceCategory: 'PACKAGE-MANAGER'; referenceType: 'purl'; referenceLocator: string }>;
  primaryPackagePurpose?: 'OPERATING_SYSTEM';
}

export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  packages: SpdxPackage[];
  relationships: Array<{ spdxElementId: string; relationshipType: 'DESCRIBES' | 'CONTAINS'; relatedSpdxElement: string }>;
  hasExtractedLicensingInfos?: Array<{ licenseId: string; name: string; extractedText: string }>;
}

export interface SbomOptions {
  /** The image's root filesystem where the runner runs. */
  rootfs: string;
  lock: LockFile;
  image: { name: string; version: string };
  /** From SOURCE_DATE_EPOCH, so rebuilds give the same document. */
  created: Date;
  toolVersion: string;
}

/** One installed package with the status fields an SBOM uses. */
interface Installed {
  name: string;
  version: string;
  architecture: string;
  maintainer?: string;
  homepage?: string;
  source?: string;
  locked: LockedPackage;
}

/** Installed packages of a dpkg status file, each matched to its locked package; any difference is a StepError. */
function matchLock(statusText: string, lock: LockFile): Installed[] {
  // An overlay's image also has the baseline's packages (no .deb, so no checksum).
  const locked = new Map(imagePackagesOf(lock).map((p) => [`${p.name}:${p.architecture}`, p]));
  const extras = statusExtras(statusText);
  const out: Installed[] = [];
  const problems: string[] = [];
  for (const s of parseDpkgStatus(statusText)) {
    const key = `${s.name}:${s.architecture}`;
    // Purged or never-installed entries are dpkg's memory, not packages in the image.
    if (s.state === 'not-installed' || s.state === 'config-files') continue;
    const p = locked.get(key);
    if (s.state !== 'installed') problems.push(`${key} is ${s.state}`);
    else if (!p) problems.push(`${key} ${s.version} is installed but not in the lock`);
    else if (p.version !== s.version) problems.push(`${key} is ${s.version} in the image, the lock says ${p.version}`);
    else out.push({ ...s, ...extras.get(key), locked: p });
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ') + (problems.length > 8 ? `; and ${problems.length - 8} more` : '');
    throw new StepError(
      `the image's packages differ from the lock, so the SBOM cannot take their checksums from it: ${shown}. Build the image again from this lock.`,
    );
  }
  return out;
}

/** Maintainer, Homepage and Source of each status entry, by name:architecture. */
function statusExtras(text: string): Map<string, { maintainer?: string; homepage?: string; source?: string }> {
  const out = new Map<string, { maintainer?: string; homepage?: string; source?: string }>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const f = new Map<string, string>();
    for (const m of stanza.matchAll(/^([A-Za-z][\w-]*):[ \t]*(.*)$/gm)) f.set((m[1] ?? '').toLowerCase(), (m[2] ?? '').trim());
    const name = f.get('package');
    if (!name) continue;
    out.set(`${name}:${f.get('architecture') ?? ''}`, {
      maintainer: f.get('maintainer') || undefined,
      homepage: f.get('homepage') || undefined,
      source: f.get('source') || undefined,
    });
  }
  return out;
}

/** The part of an SPDXID for a name: letters, digits, '.' and '-' only ("+" reads as "plus"). */
export function spdxIdPart(s: string): string {
  return s.replace(/\+/g, 'plus').replace(/[^A-Za-z0-9.-]/g, '-');
}

/** Percent-encode a purl component: everything but letters, digits and "-._~" (so an epoch's ":" is "%3A"). */
function purlEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The package URL of a Debian binary package. */
export function debPurl(name: string, version: string, arch: string): string {
  return `pkg:deb/debian/${purlEncode(name)}@${purlEncode(version)}?arch=${purlEncode(arch)}`;
}

/** SPDX's supplier for a Maintainer field: "Organization: Name (email)". */
export function supplierOf(maintainer: string): string {
  const m = /^(.*?)\s*<([^>]*)>\s*$/.exec(maintainer);
  return m ? `Organization: ${m[1]} (${m[2]})` : `Organization: ${maintainer}`;
}

/** Digest of the locked image packages: names the document, so a different package set is a different document. */
function lockDigest(lock: LockFile): string {
  const lines = lock.image.packages.map((p) => `${p.name} ${p.version} ${p.architecture} ${p.sha256}`).sort();
  if (lock.baseline) lines.push(`baseline ${lock.baseline.sha256}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** Collect the SBOM of the image at `o.rootfs`: its dpkg database, checked against the lock, and its copyright files. */
export async function collectSbom(runner: Runner, o: SbomOptions): Promise<SpdxDocument> {
  if (Number.isNaN(o.created.getTime()))
    throw new UserError('the SBOM creation time is not a valid date', 'Set SOURCE_DATE_EPOCH to whole seconds since 1970-01-01 UTC.');
  const statusFile = path.posix.join(o.rootfs, 'var/lib/dpkg/status');
  const statusText = await readFileIn(runner, statusFile).catch((err: unknown) => {
    throw new StepError(`cannot read the image's dpkg database ${statusFile} (${runner.where}) for its SBOM`, { cause: err });
  });
  const installed = matchLock(statusText, o.lock).sort((a, b) => byCodeUnit(a.name, b.name) || byCodeUnit(a.architecture, b.architecture));
  const docs = await readDocDirs(runner, o.rootfs);

  const image: SpdxPackage = {
    SPDXID: `SPDXRef-Image-${spdxIdPart(o.image.name)}`,
    name: o.image.name,
    versionInfo: o.image.version,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    primaryPackagePurpose: 'OPERATING_SYSTEM',
  };
  const packages: SpdxPackage[] = [image];
  const ids = new Set<string>();
  const refs = new Map<string, { names: string[]; texts: Set<string>; packages: string[] }>();
  for (const p of installed) {
    // Different names can sanitise alike ("a+b", "aplusb"): later ones get a counter.
    const base = `SPDXRef-Package-${spdxIdPart(p.name)}-${spdxIdPart(p.architecture)}`;
    let id = base;
    for (let n = 2; ids.has(id); n++) id = `${base}-${n}`;
    ids.add(id);
    const license = declaredLicense(copyrightOf(docs, p.name));
    for (const r of license.refs) noteRef(refs, r, p.name, license.texts.get(r.name.toLowerCase()));
    packages.push({
      SPDXID: id,
      name: p.name,
      versionInfo: p.version,
      ...(p.locked.filename ? { packageFileName: path.posix.basename(p.locked.filename) } : {}),
      ...(p.maintainer ? { supplier: supplierOf(p.maintainer) } : {}),
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      ...(p.homepage ? { homepage: p.homepage } : {}),
      ...(p.source ? { sourceInfo: `built from the Debian source package ${p.source}` } : {}),
      ...(p.locked.sha256 ? { checksums: [{ algorithm: 'SHA256' as const, checksumValue: p.locked.sha256.toLowerCase() }] } : {}),
      licenseConcluded: NOASSERTION,
      licenseDeclared: license.expression,
      copyrightText: NOASSERTION,
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: debPurl(p.name, p.version, p.architecture) }],
    });
  }

  const doc: SpdxDocument = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${o.image.name}-${o.image.version}`,
    documentNamespace: `https://g3-composer.invalid/spdx/${purlEncode(o.image.name)}-${purlEncode(o.image.version)}-${lockDigest(o.lock)}`,
    creationInfo: { created: o.created.toISOString().replace(/\.\d{3}Z$/, 'Z'), creators: [`Tool: g3-composer-${o.toolVersion}`] },
    packages,
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: image.SPDXID },
      ...packages.slice(1).map((p) => ({ spdxElementId: image.SPDXID, relationshipType: 'CONTAINS' as const, relatedSpdxElement: p.SPDXID })),
    ],
  };
  const extracted = extractedInfos(refs);
  if (extracted.length > 0) doc.hasExtractedLicensingInfos = extracted;
  return doc;
}

function noteRef(refs: Map<string, { names: string[]; texts: Set<string>; packages: string[] }>, r: LicenseRef, pkg: string, text: string | undefined): void {
  const e = refs.get(r.id) ?? { names: [], texts: new Set<string>(), packages: [] };
  refs.set(r.id, e);
  if (!e.names.includes(r.name)) e.names.push(r.name);
  // A package that names the licence without its text could mean another licence by the same name.
  e.texts.add(text ?? '');
  if (!e.packages.includes(pkg)) e.packages.push(pkg);
}

/**
 * SPDX needs a text for every LicenseRef. When every package that names it gives
 * the same text, that is it; otherwise (no text, or different licences under one
 * name such as "other") the text says where to read each package's.
 */
function extractedInfos(
  refs: Map<string, { names: string[]; texts: Set<string>; packages: string[] }>,
): NonNullable<SpdxDocument['hasExtractedLicensingInfos']> {
  return [...refs.entries()]
    .sort(([a], [b]) => byCodeUnit(a, b))
    .map(([licenseId, e]) => {
      const name = [...e.names].sort(byCodeUnit)[0] ?? licenseId;
      const only = e.texts.size === 1 ? [...e.texts][0] || undefined : undefined;
      const where = `The licence named "${name}" in the Debian copyright files of: ${[...e.packages].sort(byCodeUnit).join(', ')}. Its text is in /usr/share/doc/<package>/copyright in the image.`;
      return { licenseId, name, extractedText: only ?? where };
    });
}

/** The SBOM as JSON: two-space indents, keys in the order collectSbom builds them, a final newline. */
export function renderSbom(doc: SpdxDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Counts for `inspect`: the image's packages, how many declare a licence and how many do not. */
export function sbomSummary(doc: SpdxDocument): { packages: number; licensed: number; noAssertion: number } {
  const pkgs = doc.packages.filter((p) => p.SPDXID.startsWith('SPDXRef-Package-'));
  const licensed = pkgs.filter((p) => p.licenseDeclared !== NOASSERTION).length;
  return { packages: pkgs.length, licensed, noAssertion: pkgs.length - licensed };
}
