// Running a pipeline command's steps (pre_build, build, push, post_push) and
// saying what each did or why it skipped: a line per step as it finishes, or
// one JSON document at the end.
import type { BuildResult } from '../../commands/build.js';
import { type BuildReport, postPushStep, pushStep } from '../../pipeline/publish.js';
import type { Decision, PushRecord } from '../../pipeline/state.js';
import { type Built, buildStep, preBuild, type Skipped, type StepContext } from '../../pipeline/steps.js';
import { ExitCode } from '../../errors.js';
import type { CommandInput, SettingsInput } from '../command.js';
import { formatBytes, type Output } from '../output.js';

export type Step = 'pre_build' | 'build' | 'push' | 'post_push';

export type StepResult =
  | { step: 'pre_build'; decision: Decision }
  | { step: 'build'; result: Skipped | Built }
  | { step: 'push'; result: Skipped | { record: PushRecord } }
  | { step: 'post_push'; result: Skipped | { report: BuildReport; file: string } };

/** Run the steps in order, stopping after pre_build when nothing changed; text lines are printed as each step ends. */
export async function runSteps(steps: readonly Step[], input: SettingsInput): Promise<StepResult[]> {
  const ctx: StepContext = {
    settings: input.settings,
    target: input.target,
    env: input.env,
    repo: typeof input.flags.repo === 'string' ? input.flags.repo : undefined,
    rebuild: input.flags.rebuild === true,
    emit: input.emit,
  };
  const results: StepResult[] = [];
  for (const step of steps) {
    const r = await runStep(step, ctx);
    results.push(r);
    if (input.out.mode !== 'json') renderStep(r, input.target, input.out);
    if (r.step === 'pre_build' && !r.decision.build) break;
  }
  return results;
}

/** With --json, the one document: a single step's at the top level (as `build --json` always printed), several as one entry per step. */
export function renderSteps(command: string, steps: readonly Step[], results: StepResult[], { out, target }: CommandInput): number {
  if (out.mode === 'json') {
    const doc = steps.length === 1 && results[0] ? { command, target, ...jsonOf(results[0]) } : { command, target, steps: results.map(jsonOf) };
    out.result(JSON.stringify(doc, null, 2));
  }
  return ExitCode.ok;
}

async function runStep(step: Step, ctx: StepContext): Promise<StepResult> {
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

function renderStep(r: StepResult, target: string, out: Output): void {
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
    renderBuild(b.build, out);
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

const IMAGE_WORDS: Readonly<Record<string, string>> = { raw: 'raw image', img: 'initramfs', iso: 'ISO image' };

function bootWords(boot: BuildResult['compose']['boot']): string {
  if (!boot) return 'no bootloader';
  if (boot.provider === 'none') return `kernel ${boot.kernelVersion} boots directly (qemu -kernel, -initrd)`;
  return `boots with ${boot.provider}, kernel ${boot.kernelVersion}`;
}

/** The disk image build in text: the artifacts on stdout, sizes, stages and timings on stderr. */
function renderBuild(r: BuildResult, out: Output): void {
  const c = r.compose;
  if (r.reused) {
    for (const a of c.artifacts) out.result(a.path);
    out.note(
      `${r.target}: nothing to build: the build of ${r.reused.builtAt} had the same inputs (${r.reused.inputsDigest.slice(0, 19)}…) and its ${c.artifacts.length} artifact(s), SBOM and manifest are the files it wrote; image ${r.reused.image}; ${r.seconds.toFixed(1)} s (--rebuild builds anyway)`,
    );
    return;
  }
  const stages = Object.entries(c.timings)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(', ');
  for (const a of c.artifacts) out.result(a.path);
  out.note(
    `${r.target}: ${formatBytes(c.imageBytes)} ${IMAGE_WORDS[c.imageType] ?? `${c.imageType} image`}, ${c.packages} packages (${r.cache.downloads} downloaded), chroot ${c.snapshot}, installed packages ${c.installed}, base image ${r.base.outcome}, composer image ${r.composer.refs[0]}; ${stages}; ${r.seconds.toFixed(1)} s in all`,
  );
  out.note(
    `${r.target}: ${bootWords(c.boot)}; SBOM ${c.sbom.path} (${c.sbom.packages} packages, ${c.sbom.licensed} with a declared licence); manifest ${c.manifest}`,
  );
}
