// GET requests to one repository of a registry (Distribution HTTP API v2),
// answering its 401 challenges: Basic with the credentials, or Bearer with a
// token fetched from the challenge's realm. Every request is bounded in time
// and size, and no error message carries a secret.
import type { Readable } from 'node:stream';
import { type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { StepError } from '../errors.js';
import { guardedConnector, refusedUrlReason } from '../net/connect.js';
import { type Challenge, parseChallenges } from './challenge.js';
import { escapeInline, redactSecrets } from '../text/untrusted.js';
import { type Credentials, redact } from './credentials.js';
import { isLoopback, registryBase } from './ref.js';

export interface Session {
  registry: string;
  repository: string;
  credentials?: Credentials;
  /** Limit for each request, headers and body together. */
  timeoutMs: number;
  /** The Authorization header that worked, reused for the session's later requests. */
  authorization?: string;
  /** Plain HTTP to a registry that is not on loopback (a setting named it insecure). */
  insecure?: boolean;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The origin that gave this answer (another one than asked when redirected). */
  origin: string;
}

const MAX_REDIRECTS = 5;
/** Token answers are small JSON documents. */
const MAX_TOKEN_BYTES = 1024 * 1024;

let agent: Dispatcher | undefined;
function dispatcher(): Dispatcher {
  // Honours HTTP(S)_PROXY and NO_PROXY like the package downloads; redirects are followed here, by hand.
  // Link-local addresses (cloud metadata) are refused, whatever name leads there.
  agent ??= new EnvHttpProxyAgent({ connections: 4, connect: guardedConnector() });
  return agent;
}

/** Close pooled registry connections so the process can exit promptly. */
export async function closeRegistryConnections(): Promise<void> {
  const a = agent;
  agent = undefined;
  await a?.close().catch(() => undefined);
}

/** A header's first value. */
export function header(reply: Pick<Reply, 'headers'>, name: string): string | undefined {
  const v = reply.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `registry X, repository Y: problem`, with any secret removed: the password in any form, URL user info and token query values. */
export function failure(s: Session, problem: string, cause?: unknown): StepError {
  const clean = (text: string) => redactSecrets(redact(text, s.credentials));
  return new StepError(clean(`registry ${s.registry}, repository ${s.repository}: ${problem}`), {
    cause: cause === undefined ? undefined : clean(describe(cause)),
  });
}

/**
 * What a registry said in an error answer, read once: its `errors` array as
 * text (code: message; ...) or else the start of the body, and the error
 * codes alone (`MANIFEST_BLOB_UNKNOWN`, ...; none when it is not that JSON).
 */
export function registryErrorOf(text: string): { said: string; codes: string[] } {
  try {
    const doc = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const errors = Array.isArray(doc?.errors) ? doc.errors : [];
    const codes = errors.map((e) => e?.code).filter((c): c is string => typeof c === 'string');
    const listed = errors.map((e) => [e?.code, e?.message].filter((v) => typeof v === 'string' && v).join(': ')).filter(Boolean);
    if (listed.length) return { said: listed.join('; '), codes };
  } catch {
    // not JSON: show the text itself
  }
  return { said: text.trim().slice(0, 200), codes: [] };
}

/** What a registry said in an error answer: its `errors` array (code: message; ...), or the start of the body. */
export function registryErrorText(text: string): string {
  return registryErrorOf(text).said;
}

/** A short reason for a network error: undici puts the system error code on the error or its cause. */
function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  const code = e?.code && e.code !== 'UND_ERR_SOCKET' ? e.code : e?.cause?.code;
  const message = e?.cause?.message ?? e?.message ?? String(err);
  return code ? `${code}: ${message}` : message;
}

/** A request: a path below `/v2/<repository>/`, or an absolute URL (an upload's Location). */
export interface SendInit {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';
  url: string;
  headers?: Record<string, string>;
  /** Made afresh for each attempt: a request answered by a 401 is sent again. */
  body?: () => Buffer | Readable;
}

/** An answer whose body the caller reads (or dumps); `origin` is who gave it. */
export type Opened = Dispatcher.ResponseData & { origin: string; where: string };

/**
 * One request, following redirects for GET and HEAD; Authorization is only
 * sent to the origin `authOrigin` (the registry itself).
 */
async function open(s: Session, init: SendInit & { url: string }, authOrigin: string): Promise<Opened> {
  const url = init.url;
  let target = new URL(url);
  const follow = init.method === 'GET' || init.method === 'HEAD';
  for (let hop = 0; ; hop++) {
    const refused = refusedUrlReason(target);
    if (refused) throw failure(s, `${hop === 0 ? '' : `redirected from ${url} to ${target.origin}: `}refusing to connect to ${target.hostname}: ${refused}`);
    const headers = init.headers ?? {};
    const sent = target.origin === authOrigin ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
    const res = await request(target, {
      method: init.method,
      headers: sent,
      body: init.body?.(),
      dispatcher: dispatcher(),
      headersTimeout: s.timeoutMs,
      bodyTimeout: s.timeoutMs,
      // A body is bounded by the caller's own pace rules; the headers by the timeout.
      ...(init.body ? {} : { signal: AbortSignal.timeout(s.timeoutMs) }),
    }).catch((err: unknown) => {
      throw failure(s, `cannot reach ${target.origin} (${describe(err)})`, err);
    });
    const location = header(res, 'location');
    if (follow && res.statusCode >= 300 && res.statusCode < 400 && location) {
      await res.body.dump().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw failure(s, `more than ${MAX_REDIRECTS} redirects from ${url}`);
      target = new URL(location, target);
      continue;
    }
    return Object.assign(res, { origin: target.origin, where: `${target.origin}${target.pathname}` });
  }
}

/** Read an answer's body, at most `maxBytes`. */
async function readReply(s: Session, res: Opened, maxBytes: number): Promise<Reply> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        res.body.destroy();
        throw failure(s, `the answer from ${res.where} is larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof StepError) throw err;
    throw failure(s, `reading the answer from ${res.where} failed (${describe(err)})`, err);
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), origin: res.origin };
}

/** One GET of a small document (a token), following redirects. */
async function get(s: Session, url: string, headers: Record<string, string>, maxBytes: number): Promise<Reply> {
  return readReply(s, await open(s, { method: 'GET', url, headers }, new URL(url).origin), maxBytes);
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/**
 * Why the credentials may not go to the token service `realm` that the registry's challenge
 * named, or undefined when they may: over HTTPS, or over plain HTTP only from a registry that is
 * itself on loopback (and so spoken to in clear) to a token service on loopback too.
 */
export function realmProblem(registry: string, realm: URL): string | undefined {
  if (realm.username || realm.password) return `the token service ${realm.origin} is named with user info; refusing it`;
  if (realm.protocol === 'https:') return undefined;
  if (realm.protocol !== 'http:') return `the token service ${realm.origin} is not an http(s) URL`;
  if (!isLoopback(realm.host)) return `refusing to send credentials to the token service ${realm.origin} over plain HTTP`;
  if (!isLoopback(registry))
    return `refusing to send credentials to the token service ${realm.origin} over plain HTTP: only a registry on loopback may name one that is not HTTPS`;
  return undefined;
}

/** A bearer token from the challenge's realm, asked for with the credentials when we have them. */
async function fetchToken(s: Session, challenge: Challenge): Promise<string> {
  const realm = challenge.params['realm'];
  let url: URL | undefined;
  try {
    url = realm && /^https?:\/\//i.test(realm) ? new URL(realm) : undefined;
  } catch {
    url = undefined;
  }
  if (!url) throw failure(s, `the Bearer challenge names no usable token realm (${escapeInline(JSON.stringify(realm ?? ''))})`);
  const problem = s.credentials ? realmProblem(s.registry, url) : undefined;
  if (problem) throw failure(s, problem);
  if (challenge.params['service']) url.searchParams.set('service', challenge.params['service']);
  url.searchParams.set('scope', challenge.params['scope'] ?? `repository:${s.repository}:pull`);
  const reply = await get(s, url.toString(), s.credentials ? { authorization: basic(s.credentials) } : {}, MAX_TOKEN_BYTES);
  if (reply.status === 401 || reply.status === 403) throw rejected(s, `the token service ${url.origin}${url.pathname} answered HTTP ${reply.status}`);
  if (reply.status !== 200) throw failure(s, `the token service ${url.origin}${url.pathname} answered HTTP ${reply.status}`);
  let doc: { token?: unknown; access_token?: unknown };
  try {
    doc = JSON.parse(reply.body.toString('utf8')) as typeof doc;
  } catch {
    throw failure(s, `the token service ${url.origin}${url.pathname} did not answer JSON`);
  }
  const token = typeof doc.token === 'string' && doc.token ? doc.token : doc.access_token;
  if (typeof token !== 'string' || !token) throw failure(s, `the token service ${url.origin}${url.pathname} answered without a token`);
  return token;
}

/** The error for credentials that were refused, or missing where the registry wants some. */
function rejected(s: Session, what: string): StepError {
  const problem = s.credentials
    ? `${what}: the credentials from ${s.credentials.from} (user ${s.credentials.username}) were rejected; check the user name and password`
    : `${what}: the registry wants credentials; set REGISTRY_USERNAME and REGISTRY_PASSWORD`;
  return failure(s, problem);
}

/** The Authorization header that answers a 401's challenges. */
async function answer(s: Session, reply: Reply): Promise<string> {
  const challenges = parseChallenges(header(reply, 'www-authenticate') ?? '');
  const bearer = challenges.find((c) => c.scheme === 'bearer');
  if (bearer) return `Bearer ${await fetchToken(s, bearer)}`;
  if (challenges.some((c) => c.scheme === 'basic')) {
    if (!s.credentials) throw rejected(s, 'HTTP 401');
    return basic(s.credentials);
  }
  throw failure(s, `HTTP 401 with no Basic or Bearer challenge (WWW-Authenticate: ${escapeInline(JSON.stringify(header(reply, 'www-authenticate') ?? ''))})`);
}

/** The URL of `path` below the repository, or `path` itself when it is absolute. */
function urlOf(s: Session, path: string): string {
  return /^https?:\/\//i.test(path) ? path : `${registryBase(s.registry, s.insecure)}/v2/${s.repository}/${path}`;
}

/**
 * Send a request to the repository, authenticating when challenged; the caller
 * judges the status and reads or dumps the body.
 */
export async function registrySend(s: Session, init: SendInit): Promise<Opened> {
  const url = urlOf(s, init.url);
  const registryOrigin = new URL(urlOf(s, '')).origin;
  const headers = (): Record<string, string> => ({ ...init.headers, ...(s.authorization ? { authorization: s.authorization } : {}) });
  let res = await open(s, { ...init, url, headers: headers() }, registryOrigin);
  if (res.statusCode !== 401) return res;
  const reply = await readReply(s, res, MAX_TOKEN_BYTES);
  // Only the registry's own challenge is answered: one from an origin it redirected to
  // (blob storage, or a server that wants to collect credentials) never gets any.
  if (reply.origin !== registryOrigin)
    throw failure(
      s,
      `HTTP 401 from ${reply.origin}, where the registry redirected ${init.url}; credentials go only to the registry itself and the token service its own challenge names`,
    );
  s.authorization = await answer(s, reply);
  res = await open(s, { ...init, url, headers: headers() }, registryOrigin);
  if (res.statusCode === 401) {
    await res.body.dump().catch(() => undefined);
    throw rejected(s, 'HTTP 401 after authenticating');
  }
  return res;
}

/** GET `/v2/<repository>/<path>`, authenticating when challenged; the caller judges the status. */
export async function registryGet(s: Session, path: string, accept: string[], maxBytes: number): Promise<Reply> {
  return readReply(s, await registrySend(s, { method: 'GET', url: path, headers: { accept: accept.join(', ') } }), maxBytes);
}
