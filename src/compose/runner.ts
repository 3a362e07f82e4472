// Where compose steps run: inside the build container (`docker exec`), or
// directly on this machine (tests, hosts that build without Docker). A step is
// an argument array; nothing goes through a shell unless a step names `sh`.
import { type RunResult, run } from '../exec.js';

export interface StepOptions {
  /** Bytes or text for the command's stdin. */
  input?: string | Uint8Array;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Do not throw on a non-zero exit; the caller reads exitCode. */
  reject?: boolean;
  /** Each line of output as it arrives (progress, build logs). */
  onLine?: (line: string) => void;
}

/** Runs one command where the stages run. */
export interface Runner {
  /** A short name for messages: "container g3c-1a2b" or "host". */
  readonly where: string;
  run(argv: string[], opts?: StepOptions): Promise<RunResult>;
}

/** Runs steps on this machine (tests and the host-side parts of a build). */
export class LocalRunner implements Runner {
  readonly where = 'host';
  async run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    const [command, ...args] = argv;
    if (!command) throw new Error('empty command');
    return run({ command, args }, { input: opts.input, env: opts.env, reject: opts.reject, onLine: opts.onLine });
  }
}
