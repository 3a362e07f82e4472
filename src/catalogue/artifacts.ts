// A target's `artifacts:` list: single files pinned by SHA256, each URL
// expanded and checked, a file declared twice only with the same digest.
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { reservedSectionReason, unsafeNameReason, unsafeUrlReason } from '../layout/names.js';
import { isEmpty, type Reader } from './reader.js';
import type { Artifact } from './types.js';

const ARTIFACT_KEYS = ['section', 'file', 'url', 'urls', 'sha256', 'size'];

/** Read the `artifacts:` list at `field`; an empty value is an empty list. */
export function readArtifacts(r: Reader, field: string, node: Node | null): Artifact[] {
  if (isEmpty(node)) return [];
  if (!isSeq(node)) r.fail(node, field, 'must be a list of artifacts');
  const seen = new Map<string, Artifact>();
  node.items.forEach((item, i) => {
    const a = readArtifact(r, `${field}[${i}]`, item as Node);
    const key = `${a.section}/${a.file}`;
    const prior = seen.get(key);
    if (prior && prior.sha256 !== a.sha256)
      r.fail(item as Node, `${field}[${i}]`, `declares ${key} again with another sha256 (first at line ${prior.origin.line})`);
    if (!prior) seen.set(key, a);
  });
  return [...seen.values()];
}

function readArtifact(r: Reader, field: string, node: Node): Artifact {
  if (!isMap(node)) r.fail(node, field, 'must be a mapping with section, file, url(s) and sha256');
  const get = (k: string) => node.get(k, true) as Node | undefined;
  r.knownKeys(node, field, ARTIFACT_KEYS, 'an artifact');
  const str = (k: string): string => {
    const n = get(k);
    if (!isScalar(n) || typeof n.value !== 'string') r.fail(n ?? node, `${field}.${k}`, n ? 'must be a string' : 'is required');
    return n.value as string;
  };
  const section = str('section');
  const sectionProblem = reservedSectionReason(section);
  if (sectionProblem) r.fail(get('section'), `${field}.section`, sectionProblem);
  const file = str('file');
  const fileProblem = unsafeNameReason(file);
  if (fileProblem) r.fail(get('file'), `${field}.file`, fileProblem);
  const sha256 = str('sha256').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) r.fail(get('sha256'), `${field}.sha256`, 'must be 64 hexadecimal digits');
  let size: number | undefined;
  const sizeNode = get('size');
  if (sizeNode !== undefined) {
    const v = isScalar(sizeNode) ? sizeNode.value : undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) r.fail(sizeNode, `${field}.size`, 'must be a whole number of bytes');
    size = v;
  }
  const urls = readUrls(r, field, get('url'), get('urls'), node);
  return { section, file, urls, sha256, size, origin: r.origin(node) };
}

function readUrls(r: Reader, field: string, one: Node | undefined, many: Node | undefined, at: Node): string[] {
  if (one && many) r.fail(many, `${field}.urls`, 'cannot be given together with url');
  const raw: Array<[Node, string]> = [];
  if (one) {
    if (!isScalar(one) || typeof one.value !== 'string') r.fail(one, `${field}.url`, 'must be a string');
    raw.push([one, `${field}.url`]);
  } else if (many) {
    if (!isSeq(many) || many.items.length === 0) r.fail(many, `${field}.urls`, 'must be a non-empty list of URLs');
    many.items.forEach((n, i) => {
      if (!isScalar(n) || typeof n.value !== 'string') r.fail(n as Node, `${field}.urls[${i}]`, 'must be a string');
      raw.push([n as Node, `${field}.urls[${i}]`]);
    });
  } else {
    r.fail(at, `${field}.url`, 'is required (or urls: [...])');
  }
  return raw.map(([n, f]) => {
    const url = r.expand(n, f, String((n as { value: unknown }).value));
    const problem = unsafeUrlReason(url);
    if (problem) r.fail(n, f, problem);
    return url;
  });
}
