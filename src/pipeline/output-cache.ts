// The output cache: `build` whose inputs digest is the one of the last build
// of the target here, whose outputs are still the very files that build wrote,
// and whose image is still in the local daemon, builds nothing: the last
// build's result is the answer. The outputs are checked by stamps (size, mtime,
// inode and device from lstat, as the package cache's), never rehashed: a file
// written, replaced, removed or made a link since fails its stamp. Outputs that
// hold but an image that is gone get the image made again from them.
// FORCE_BUILDING=1 or --rebuild builds anyway.
import { identityOf, type FileIdentity } from '../cache/stamp.js';
import type { BuildResult } from '../commands/build.js';
import { lstat } from 'node:fs/promises';
import { ignoreNotFound } from '../fs/safe.js';
import type { Carrier } from './carrier.js';

/** One output of a build as it was written: where, its identity, its SHA256. */
export interface OutputStamp extends FileIdentity {
  path: string;
  sha256: string;
}

/** What the build record keeps so a later build with the same inputs can answer without building. */
export interface ReusableBuild {
  outputs: OutputStamp[];
  result: BuildResult;
  carrier: Carrier;
}

const lstatBig = (p: string) => ignoreNotFound(lstat(p, { bigint: true }));

/** Every file a build's result names: the artifacts, the SBOM and the manifest. */
function outputFiles(r: BuildResult): { path: string; sha256?: string }[] {
  const c = r.compose;
  return [...c.artifacts.map((a) => ({ path: a.path, sha256: a.sha256 })), { path: c.sbom.path }, { path: c.manifest }];
}

/** Stamp the outputs of a build that just ended (lstat: a link is recorded as a link and never matches). */
export async function stampOutputs(r: BuildResult): Promise<OutputStamp[]> {
  const stamps: OutputStamp[] = [];
  for (const f of outputFiles(r)) {
    const st = await lstatBig(f.path);
    if (!st?.isFile()) throw new Error(`the build's output ${f.path} is not a regular file`);
    stamps.push({ path: f.path, ...identityOf(st), sha256: f.sha256 ?? '' });
  }
  return stamps;
}

/** Why the recorded outputs are not the files there now, or undefined when every one still is. */
export async function outputsChanged(outputs: readonly OutputStamp[]): Promise<string | undefined> {
  if (outputs.length === 0) return 'the last build recorded no outputs';
  for (const o of outputs) {
    const st = await lstatBig(o.path);
    if (!st) return `${o.path} is gone`;
    if (!st.isFile()) return `${o.path} is no longer a regular file`;
    const now = identityOf(st);
    if (now.size !== o.size || now.mtimeNs !== o.mtimeNs || now.ino !== o.ino || now.dev !== o.dev)
      return `${o.path} was written or replaced since the last build`;
  }
  return undefined;
}
