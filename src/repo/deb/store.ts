// The metadata store: signed Release files and compressed indexes kept by
// their SHA256 (`by-hash/sha256/<hex>`), plus the last verified state of each
// suite (`suites/<id>.json`). Files appear only complete (temp + fsync +
// rename), so concurrent processes can share one store; every read re-hashes.
// Nothing in the store is read or written through a symbolic link.
import path from 'node:path';
import { ensureDirFor, fsyncFile, publish, removeQuietly, tempPathFor, writeFileAtomic } from '../../fs/atomic.js';
import { track, untrack } from '../../fs/cleanup.js';
import { hashFile } from '../../fs/hash.js';
import { messageOf, UserError } from '../../errors.js';
import { isNotFound, readFileNoFollow, reachable } from '../../fs/safe.js';
import type { Emit } from '../../log/events.js';
import type { SuiteState } from './types.js';

const HEX64 = /^[0-9a-f]{64}$/;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

export interface Digest {
  sha256: string;
  size: number;
}

/** A content-addressed store of repository metadata under one directory. */
export class MetadataStore {
  constructor(
    readonly dir: string,
    private readonly emit: Emit,
  ) {}

  /** Where the blob with this SHA256 lives (whether or not it is there). */
  blobPath(sha256: string): string {
    if (!HEX64.test(sha256)) throw new UserError(`"${sha256}" is not a SHA256 digest`, 'A digest is 64 lower-case hex digits; check the lock file.');
    return path.join(this.dir, 'by-hash', 'sha256', sha256);
  }

  /** A fresh temporary name beside the blobs, for a download whose digest may not be known yet. */
  async tempBlob(): Promise<string> {
    const tmp = tempPathFor(path.join(this.dir, 'by-hash', 'sha256', 'incoming'));
    await ensureDirFor(tmp, this.dir);
    track(tmp);
    return tmp;
  }

  /** The path of an intact stored blob, or undefined; a blob with the wrong content is deleted. */
  async find(want: { sha256: string; size?: number }): Promise<string | undefined> {
    const file = this.blobPath(want.sha256);
    if (!(await reachable(this.dir, file))) return undefined;
    const got = await hashFile(file, { noFollow: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      if (err.code === 'ELOOP') return { sha256: '(a symbolic link)', size: 0 };
      throw err;
    });
    if (!got) return undefined;
    if (got.sha256 === want.sha256 && (want.size === undefined || got.size === want.size)) return file;
    this.emit({ type: 'warning', message: `metadata store: ${file} is corrupt (sha256 ${got.sha256}, ${got.size} bytes); removed` });
    await removeQuietly(file);
    return undefined;
  }

  /** Move a complete temporary file into the store under its digest (hashing it when not given). */
  async adopt(tmp: string, digest?: Digest): Promise<Digest & { file: string }> {
    try {
      const d = digest ?? (await hashFile(tmp));
      const file = this.blobPath(d.sha256);
      await fsyncFile(tmp);
      await publish(tmp, file);
      return { ...d, file };
    } catch (err) {
      await removeQuietly(tmp);
      throw err;
    } finally {
      untrack(tmp);
    }
  }

  /** Drop a temporary file that will not be adopted. */
  async discard(tmp: string): Promise<void> {
    await removeQuietly(tmp);
    untrack(tmp);
  }

  /** The last verified state of a suite, or undefined (missing or unreadable: warned). */
  async readState(id: string): Promise<SuiteState | undefined> {
    const file = this.statePath(id);
    let text: string;
    try {
      if (!(await reachable(this.dir, file))) return undefined;
      text = await readFileNoFollow(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if ((err as { name?: string }).name !== 'UnexpectedLinkError') throw err;
      this.emit({ type: 'warning', message: `metadata store: ${file} is a symbolic link: not followed; ignoring it` });
      return undefined;
    }
    try {
      const state = JSON.parse(text) as SuiteState;
      if (state.version === 1 && HEX64.test(state.release?.sha256 ?? '') && Array.isArray(state.indexes)) return state;
    } catch {
      // Reported below, like any other unusable state.
    }
    this.emit({ type: 'warning', message: `metadata store: ${file} is unreadable; ignoring it` });
    return undefined;
  }

  /** Replace the last verified state of a suite atomically. */
  async writeState(id: string, state: SuiteState): Promise<void> {
    await writeFileAtomic(this.statePath(id), `${JSON.stringify(state, null, 2)}\n`, true, this.dir);
  }

  /** The detached signature recorded for a Release file (by the Release's digest). */
  async signatureFor(releaseSha256: string): Promise<Digest | undefined> {
    const file = path.join(this.dir, 'signatures', `${this.checkedHex(releaseSha256)}.json`);
    const text = await this.readSmall(file);
    if (text === undefined) return undefined;
    try {
      const d = JSON.parse(text) as Digest;
      return HEX64.test(d.sha256) && Number.isInteger(d.size) ? d : undefined;
    } catch {
      return undefined;
    }
  }

  /** Remember which detached signature goes with a Release file, so pinned runs can check it offline. */
  async recordSignature(releaseSha256: string, signature: Digest): Promise<void> {
    const file = path.join(this.dir, 'signatures', `${this.checkedHex(releaseSha256)}.json`);
    await writeFileAtomic(file, `${JSON.stringify({ sha256: signature.sha256, size: signature.size })}\n`, true, this.dir);
  }

  // A small record, or undefined when it is missing or not usable (a link, unreadable: warned).
  private async readSmall(file: string): Promise<string | undefined> {
    try {
      if (!(await reachable(this.dir, file))) return undefined;
      return await readFileNoFollow(file);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      this.emit({ type: 'warning', message: `metadata store: cannot read ${file} (${messageOf(err)}); ignoring it` });
      return undefined;
    }
  }

  private statePath(id: string): string {
    // The id becomes a file name; refuse anything that could leave the directory.
    if (!SAFE_ID.test(id)) throw new UserError(`repository id "${id}" cannot name a file`, 'Use letters, digits, ".", "_", "+" and "-" only.');
    return path.join(this.dir, 'suites', `${id}.json`);
  }

  private checkedHex(sha256: string): string {
    return path.basename(this.blobPath(sha256));
  }
}
