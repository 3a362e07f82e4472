// pre_build, build, push, post_push, all and all-no-push: run the pipeline's
// steps and say what each did or why it skipped.
import type { BuildResult } from '../../commands/build.js';
import type { Settings } from '../../config/load.js';
import type { Env } from '../../env.js';
import { ExitCode } from '../../errors.js';
import type { Emit } from '../../log/events.js';
import { type BuildReport, postPushStep, pushStep } from '../../pipeline/publish.js';
import type { Decision, PushRecord } from '../../pipeline/state.js';
import { type Built, buildStep, preBuild, type Skipped, type StepContext } from '../../pipeline/steps.js';
import type { Output } from '../output.js';

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

type StepResult =
  | { step: 'pre_build'; decision: Decision }
  | { step: 'build'; result: Skipped | Built }
  | { step: 'push'; result: Skipped | { record: PushRecord } }
  | { step: 'post_push'; result: Skipped | { report: BuildReport; file: string } };

const SEQUENCES: Record<PipelineCommand, StepResult['step'][]> = {
  pre_build: ['pre_build'],
  build: ['build'],
  push: ['push'],
  post_push: ['post_push'],
  all: ['pre_build', 'build', 'push', 'post_push'],
  'all-no-push': ['pre_build', 'build'],
};

/** Run a pipeline command's steps in order, stopping after pre_build when nothing changed. */
export async function runPipeline(command: PipelineCommand, input: PipelineInput): Promise<number> {
  const ctx: StepContext = {
    settings: input.settings,
    target: input.target,
    env: input.env,
    repo: typeof input.flags.repo === 'string' ? input.flags.repo : undefined,
    emit: input.emit,
  };
  const results: StepResult[] = [];
  for (const step of SEQUENCES[command]) {
    const r = await runStep(step, ctx);
    results.push(r);
    if (input.out.mode !== 'json') render(r, input);
    if (r.step === 'pre_build' && !r.decision.build) break;
  }
  if (input.out.mode === 'json') {
    // One step: its document at the top level (as `build --json` always printed); several: one entry per step.
    const doc =
      SEQUENCES[command].length === 1 && results[0]
        ? { command, target: input.target, ...jsonOf(results[0]) }
        : { command, target: input.target, steps: results.map(jsonOf) };
    input.out.result(JSON.stringify(doc, null, 2));
  }
  return ExitCode.ok;
}

async function runStep(step: StepResult['step'], ctx: StepContext): Promise<StepResult> {
  switch (step) {
    case 'pre_build':
      return { step, decision: await preBuild(ctx) };
    case 'build':
      return { step, result: await buildStep(ctx) };
    case 'push':
      return { step, result: await pushStep(ctx) };
    default:
      return { step: 'post_push', result: await postPushStep(ctx) };
  }
}

/** One step's JSON: the decision, the record, the report, or why it skipped. */
function jsonOf(r: StepResult): Record<string, unknown> {
  if (r.step === 'pre_build') return { step: r.step, ...r.decision };
  if ('skipped' in r.result) return { step: r.step, skipped: true, reason: r.result.skipped };
  if (r.step === 'build') {
    const b = r.result as Built;
    return {
      step: r.step,
      skipped: false,
      ...b.build,
      image: { id: b.carrier.imageId, refs: b.carrier.refs, files: b.carrier.files, labels: b.carrier.labels },
      inputsDigest: b.record.inputsDigest,
    };
  }
  return { step: r.step, skipped: false, ...r.result };
}

function render(r: StepResult, input: PipelineInput): void {
  const { out, target } = input;
  if (r.step === 'pre_build') {
    out.note(`${target}: pre_build: ${r.decision.reason}`);
    out.note(
      `${target}: inputs digest ${r.decision.inputsDigest}; ${r.decision.build ? 'build, push and post_push will run' : 'build, push and post_push will skip'}`,
    );
    return;
  }
  if ('skipped' in r.result) {
    out.note(`${target}: ${r.step} skipped: ${r.result.skipped}`);
    return;
  }
  if (r.step === 'build') {
    const b = r.result as Built;
    input.renderBuild(b.build);
    out.result(b.carrier.refs.join('\n'));
    out.note(
      `${target}: image ${b.carrier.refs.join(', ')} (${b.carrier.imageId.slice(0, 19)}, ${(b.record.timings.image ?? 0).toFixed(1)} s), /disk/: ${b.carrier.files.map((f) => f.name).join(', ')}; inputs digest ${b.record.inputsDigest}`,
    );
  } else if (r.step === 'push') {
    const p = (r.result as { record: PushRecord }).record;
    for (const x of p.pushed) out.result(`${x.ref}@${x.digest}`);
    out.note(`${target}: pushed ${p.pushed.length} reference(s)`);
  } else {
    const { report, file } = r.result as { report: BuildReport; file: string };
    out.result(file);
    out.note(
      `${target}: report ${file}: image ${report.image.digest ?? report.image.id}, cache hit rate ${(report.cache.hitRate * 100).toFixed(1)}% of ${report.cache.items} items`,
    );
  }
}
