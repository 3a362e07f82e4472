// What one pipeline step leaves for the next: pre_build's decision, build's
// record, push's result. Docker Hub runs each hook as its own process, so they
// meet on disk: `<work_dir>/.g3-pipeline/<target>/<step>.json`, written atomically.
// Nothing there is read or written through a symbolic link: a link where a
// state folder belongs stops the step (exit 2) naming it.
import path from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import { messageOf } from '../errors.js';
import { isNotFound, readFileNoFollow, realDirsTo, UnexpectedLinkError } from '../fs/safe.js';
import { jsonProblem } from '../text/untrusted.js';
import type { InputPart } from './inputs.js';
import type { ReusableBuild } from './output-cache.js';
import { pipelineStateDir } from '../layout/paths.js';

/** pre_build's answer. */
export interface Decision {
  target: string;
  inputsDigest: string;
  parts: InputPart[];
  /** changed or forced: build; unchanged or prohibited: skip. */
  outcome: 'changed' | 'unchanged' | 'forced' | 'prohibited';
  /** Whether build, push and post_push should run. */
  build: boolean;
  reason: string;
  /** The image whose label was compared, when one was found. */
  last?: { where: 'local' | 'registry'; ref: string; inputsDigest?: string; digest?: string };
  at: string;
}

/** What build made: the report's source. */
export interface BuildRecord {
  target: string;
  providerId: string;
  inputsDigest: string;
  parts: InputPart[];
  image: { id: string; refs: string[]; labels: Record<string, string> };
  /** Files of the disk image build (artifacts, SBOM, manifest). */
  buildDir: string;
  stem: string;
  manifest: string;
  timings: Record<string, number>;
  cache: { items: number; local: number; shared: number; downloads: number; bytesDownloaded: number };
  snapshots: { chroot: string; installed: string };
  source: { branch?: string; commit?: string; message?: string };
  seconds: number;
  at: string;
  /** The outputs' stamps, the result and the image: what a later build with the same inputs answers with (output-cache.ts). */
  reuse?: ReusableBuild;
}

/** What push sent. */
export interface PushRecord {
  target: string;
  inputsDigest: string;
  imageId: string;
  pushed: { ref: string; digest: string }[];
  at: string;
}

type Step = 'pre_build' | 'build' | 'push';
type RecordOf<S extends Step> = S extends 'pre_build' ? Decision : S extends 'build' ? BuildRecord : PushRecord;

/** Read a step's record, or undefined when there is none (or it is unreadable, which is reported). */
export async function readState<S extends Step>(workDir: string, target: string, step: S, warn?: (m: string) => void): Promise<RecordOf<S> | undefined> {
  const file = path.join(pipelineStateDir(workDir, target), `${step}.json`);
  let text: string;
  try {
    // A link on the way (or at the record) throws UnexpectedLinkError: exit 2, naming it.
    if (!(await realDirsTo(workDir, file))) return undefined;
    text = await readFileNoFollow(file);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    if (err instanceof UnexpectedLinkError) throw err;
    warn?.(`ignoring ${file}: ${messageOf(err)}`);
    return undefined;
  }
  try {
    return JSON.parse(text) as RecordOf<S>;
  } catch (err) {
    warn?.(`ignoring ${file}: it is ${jsonProblem(err, text)}`);
    return undefined;
  }
}

/** Write a step's record atomically (readers see the old or the new one, whole). */
export async function writeState<S extends Step>(workDir: string, target: string, step: S, value: RecordOf<S>): Promise<string> {
  const dir = pipelineStateDir(workDir, target);
  const file = path.join(dir, `${step}.json`);
  // Every folder from the work directory down is a real one (a link: UnexpectedLinkError, exit 2).
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, false, workDir);
  return file;
}
