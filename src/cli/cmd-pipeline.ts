// pre_build, build, push, post_push, all and all-no-push: the rebuild decision
// decides which of them run.
import { type BuildResult, build } from '../commands/build.js';
import type { Settings } from '../config/load.js';
import type { Env } from '../env.js';
import { ExitCode, UserError } from '../errors.js';
import type { Emit } from '../log/events.js';
import type { Output } from './output.js';

export type PipelineCommand = 'pre_build' | 'build' | 'push' | 'post_push' | 'all' | 'all-no-push';

export interface PipelineInput {
  settings: Settings;
  target: string;
  env: Env;
  flags: Record<string, string | boolean>;
  emit: Emit;
  out: Output;
  renderBuild: (r: BuildResult) => number;
}

/** Run a pipeline command and return its exit code. */
export async function runPipeline(command: PipelineCommand, input: PipelineInput): Promise<number> {
  if (command === 'build') {
    input.renderBuild(await build({ settings: input.settings, target: input.target, env: input.env, emit: input.emit }));
    return ExitCode.ok;
  }
  throw new UserError(`${command} is being built`);
}
