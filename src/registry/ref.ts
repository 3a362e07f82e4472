// Image references as Docker and the Distribution spec write them:
// [host[:port]/]path[/path...][:tag][@algorithm:hex]. Parsing is strict so a
// typo in a target fails before a build, not halfway through a push.
import { UserError } from '../errors.js';

export interface ImageRef {
  /** `host[:port]`; undefined when the reference names no registry (we never assume one). */
  registry: string | undefined;
  /** Slash-separated lowercase path inside the registry, e.g. `team/os-image`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` (or sha512), pinning the manifest. */
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$/;
const IPV6 = /^\[[0-9a-fA-F:.]+\]$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGESTS: Record<string, number> = { sha256: 64, sha512: 128 };
/** The Distribution spec caps a repository name (with its host) at 255 characters. */
const MAX_NAME = 255;

const HINT =
  'Write it as host[:port]/path[:tag], e.g. 127.0.0.1:5000/team/os-image:1.0: the path is lowercase letters, digits and the separators . _ __ -, and a tag is up to 128 of letters, digits, _ . - not starting with . or -.';

function bad(text: string, why: string, source?: string): UserError {
  const where = source ? `${source}: ` : '';
  return new UserError(`${where}invalid image reference ${JSON.stringify(text)}: ${why}`, HINT);
}

/** Whether the first path element names a registry host rather than a repository (Docker's rule). */
function looksLikeHost(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[') || first !== first.toLowerCase();
}

/** Check `host[:port]`; returns the reason it is wrong, or undefined. */
function hostProblem(host: string): string | undefined {
  const m = /^(\[[^\]]*\]|[^:]*)(?::([^:]*))?$/.exec(host);
  if (!m) return `the registry host ${JSON.stringify(host)} has more than one ':' (put an IPv6 address in brackets)`;
  const [, name = '', port] = m;
  if (!(DOMAIN_NAME.test(name) || IPV6.test(name))) return `the registry host ${JSON.stringify(name)} is not a host name or address`;
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535))
    return `the registry port ${JSON.stringify(port)} is not a number from 1 to 65535`;
  return undefined;
}

function checkDigest(text: string, digest: string, source?: string): void {
  const [algorithm = '', hex, ...rest] = digest.split(':');
  const length = DIGESTS[algorithm];
  if (length === undefined || hex === undefined || rest.length)
    throw bad(text, `the digest ${JSON.stringify(digest)} is not sha256:<hex> or sha512:<hex>`, source);
  if (!new RegExp(`^[a-f0-9]{${length}}$`).test(hex)) throw bad(text, `the ${algorithm} digest must be ${length} lowercase hex digits`, source);
}

function checkTag(text: string, tag: string, source?: string): void {
  if (tag.length > 128) throw bad(text, `the tag is ${tag.length} characters long; at most 128 are allowed`, source);
  if (!TAG.test(tag)) throw bad(text, `the tag ${JSON.stringify(tag)} may only hold letters, digits, _ . - and must not start with . or -`, source);
}

function checkPath(text: string, components: string[], source?: string): void {
  for (const c of components) {
    if (c === '') throw bad(text, 'the repository path has an empty element (a leading, trailing or doubled /)', source);
    if (c !== c.toLowerCase())
      throw bad(text, `the repository path element ${JSON.stringify(c)} has uppercase letters; repository names are lowercase`, source);
    if (!PATH_COMPONENT.test(c))
      throw bad(text, `the repository path element ${JSON.stringify(c)} may only hold lowercase letters and digits joined by . _ __ or -`, source);
  }
}

/** Parse an image reference; `source` (e.g. a file and field) prefixes error messages. */
export function parseRef(text: string, source?: string): ImageRef {
  if (text.trim() === '') throw bad(text, 'it is empty', source);
  if (/\s/.test(text)) throw bad(text, 'it contains white space', source);
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(text, digest, source);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/') && !rest.slice(colon).includes(']')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    checkTag(text, tag, source);
  }
  if (rest === '') throw bad(text, 'the repository name is missing', source);
  const parts = rest.split('/');
  let registry: string | undefined;
  if (parts.length > 1 && looksLikeHost(parts[0] ?? '')) {
    registry = parts.shift() as string;
    const problem = hostProblem(registry);
    if (problem) throw bad(text, problem, source);
  }
  checkPath(text, parts, source);
  if (rest.length > MAX_NAME) throw bad(text, `the name is ${rest.length} characters long; at most ${MAX_NAME} are allowed`, source);
  return { registry, repository: parts.join('/'), ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** The reference as text, the way docker takes it. */
export function formatRef(ref: ImageRef): string {
  return `${refName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** `host/repository` without tag or digest: what docker lists in RepoDigests. */
export function refName(ref: ImageRef): string {
  return ref.registry === undefined ? ref.repository : `${ref.registry}/${ref.repository}`;
}

/** What to ask the registry for: the digest when pinned, else the tag (docker's default `latest`). */
export function manifestReference(ref: ImageRef): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** The host without its port and brackets, lowercased. */
function hostOnly(registry: string): string {
  const m = /^\[([^\]]*)\]/.exec(registry);
  return (m ? (m[1] ?? '') : (registry.split(':')[0] ?? '')).toLowerCase();
}

/** Whether the registry is on this machine's loopback (spoken to over plain HTTP, as docker does). */
export function isLoopback(registry: string): boolean {
  const host = hostOnly(registry);
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** The base URL of a registry's HTTP API: http on loopback (or when a setting named it insecure), https everywhere else. */
export function registryBase(registry: string, insecure = false): string {
  return `${insecure || isLoopback(registry) ? 'http' : 'https'}://${registry}`;
}
