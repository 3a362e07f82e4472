// The builder CLI as a function: argv in, exit code out. builder.ts and the
// hooks call it; tests call it directly.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cleanupNow } from '../fs/cleanup.js';
import { checkTargetName } from '../catalogue/target-name.js';
import type { CheckReport, RefreshReport } from '../cache/refresh.js';
import { closeFetch } from '../net/fetch.js';
import { closeRegistryConnections } from '../registry/http.js';
import { cache } from '../commands/cache.js';
import { inspectImage, renderReport } from '../inspect/image.js';
import { type BaseResult, type BuildResult, base } from '../commands/build.js';
import { type LockResult, lock } from '../commands/lock.js';
import { type ValidateResult, validate } from '../commands/validate.js';
import { setCommandTrace } from '../exec.js';
import { setTempRoot } from '../fs/temp.js';
import type { CacheEvent } from '../log/events.js';
import { stringify as stringifyYaml } from 'yaml';
import { loadSettings, type Settings } from '../config/load.js';
import { openRunLog } from '../log/runlog.js';
import type { Env } from '../env.js';
import { ExitCode, exitCodeFor, InternalError, StepError, UserError } from '../errors.js';
import { isNotFound } from '../fs/safe.js';
import { type Invocation, parseInvocation, suggest } from './args.js';
import { commandHelp, mainHelp, TARGET_COMMANDS } from './help.js';
import { type CacheAdminCommand, runCacheAdmin } from './commands/cache-admin-run.js';
import { runConfigShow } from './commands/config.js';
import { runList } from './commands/list.js';
import { type PipelineCommand, runPipeline } from './commands/pipeline-run.js';
import { createOutput, formatBytes, type Output, pickMode, type Streams } from './output.js';

export interface CliContext extends Streams {
  env: Env;
  cwd: string;
  projectRoot: string;
  /** How the user called us, for help texts. */
  prog: string;
}

/** Run the builder CLI and return its exit code. */
export async function main(argv: string[], ctx: CliContext): Promise<number> {
  return runInvocation(() => parseInvocation(argv), ctx, argv);
}

/**
 * Run an invocation the caller parsed itself (the hooks: their target comes
 * from arguments or DOCKER_TAG and is never read as an option); `argv` is what
 * the run log records.
 */
export async function runInvocation(parse: () => Invocation, ctx: CliContext, argv: string[]): Promise<number> {
  let out: Output = createOutput('plain', false, ctx, ctx.env);
  let code: number = ExitCode.failure;
  try {
    const inv = parse();
    out = createOutput(pickMode(inv.flags, ctx.env, ctx.stderr.isTTY === true), inv.flags.verbose === true, ctx, ctx.env);
    code = await dispatch(inv, ctx, out, argv);
  } catch (err) {
    code = reportError(err, out, ctx.prog);
  } finally {
    // Writes the run log's FINISHED banner when a command opened one.
    out.close(code);
  }
  return code;
}

/**
 * Open the run log once the settings name it. Anything that fails before
 * (bad arguments, bad settings) is not logged: there is no log file yet.
 * --help and --version return before this, so they are not logged either.
 */
function startRunLog(out: Output, settings: Settings, ctx: CliContext, argv: string[], command: string): void {
  if (settings.logFile === undefined) return;
  const warn = (message: string) => out.emit({ type: 'warning', message });
  const log = openRunLog({ file: settings.logFile, level: settings.logLevel, prog: ctx.prog, argv, cwd: ctx.cwd, command }, warn);
  if (typeof log === 'string') warn(log);
  else out.attachLog(log);
}

async function dispatch(inv: Invocation, ctx: CliContext, out: Output, argv: string[]): Promise<number> {
  if (inv.version) {
    out.result(version(ctx.projectRoot));
    return ExitCode.ok;
  }
  if (inv.help && inv.command === undefined) {
    out.result(mainHelp(ctx.prog));
    return ExitCode.ok;
  }
  if (inv.command !== undefined && inv.target === undefined) return targetless(inv, ctx, out, argv);
  if (inv.target === undefined) {
    throw new UserError('missing target and command', `Usage: ${ctx.prog} <target> <command> [options]; see ${ctx.prog} --help.`);
  }
  // Before anything uses it as a file name (locks, the pipeline's state folder).
  checkTargetName(inv.target);
  if (inv.command === undefined) {
    throw new UserError(`missing command after target "${inv.target}"`, `Commands: ${TARGET_COMMANDS.join(', ')}.`);
  }
  if (inv.command === 'inspect' || inv.command === 'list' || !TARGET_COMMANDS.includes(inv.command)) {
    if (inv.command === 'inspect')
      throw new UserError(
        'inspect takes an image file, not a target',
        `Usage: ${ctx.prog} inspect <image> [--json], e.g. ${ctx.prog} inspect workspace/<provider-id>/imagebuild/<name>/<image>.raw`,
      );
    const near = suggest(inv.command, TARGET_COMMANDS);
    throw new UserError(`unknown command "${inv.command}"`, `${near ? `Did you mean "${near}"? ` : ''}Commands: ${TARGET_COMMANDS.join(', ')}.`);
  }
  if (inv.help) {
    out.result(commandHelp(ctx.prog, inv.command));
    return ExitCode.ok;
  }
  if (inv.rest.length > 0) throw new UserError(`unexpected argument "${inv.rest[0]}"`, `Usage: ${ctx.prog} <target> ${inv.command} [options]`);
  const settings = await loadSettings({ projectRoot: ctx.projectRoot, env: ctx.env, flags: inv.flags, cwd: ctx.cwd });
  startRunLog(out, settings, ctx, argv, `${inv.target} ${inv.command}`);
  setTempRoot(settings.tempDir);
  const emit = (e: CacheEvent) => out.emit(e);
  setCommandTrace(out.wantsDebug() ? (line) => emit({ type: 'debug', message: line }) : undefined);
  try {
    switch (inv.command) {
      case 'validate':
        return renderValidate(await validate({ settings, target: inv.target, merged: inv.flags.merged === true, emit }), out);
      case 'lock':
        return renderLock(await lock({ settings, target: inv.target, update: inv.flags.update === true, emit }), out);
      case 'base':
        return renderBase(await base({ settings, target: inv.target, env: ctx.env, emit }), out);
      case 'cache': {
        const result = await cache({ settings, target: inv.target, check: inv.flags.check === true, verify: inv.flags.verify === true, emit });
        if (result.mode === 'check') return renderCheck(result.target, result.report, out);
        return renderRefresh(result.target, result.report, out);
      }
      default:
        // build, pre_build, push, post_push, all, all-no-push: the pipeline decides what runs.
        return await runPipeline(inv.command as PipelineCommand, {
          settings,
          target: inv.target,
          env: ctx.env,
          flags: inv.flags,
          emit,
          out,
          renderBuild: (r) => renderBuild(r, out),
        });
    }
  } finally {
    setCommandTrace(undefined);
    setTempRoot(undefined);
    await closeFetch();
    await closeRegistryConnections();
  }
}

/** list, inspect <image>, cache status|verify|prune|clean, config show. */
async function targetless(inv: Invocation, ctx: CliContext, out: Output, argv: string[]): Promise<number> {
  const command = inv.command as string;
  if (inv.help) {
    out.result(commandHelp(ctx.prog, command));
    return ExitCode.ok;
  }
  if (command === 'inspect') return runInspect(inv, ctx, out);
  if (inv.rest.length > 0)
    throw new UserError(`unexpected argument "${inv.rest[0]}"`, `Usage: ${ctx.prog} ${command} [options]; see ${ctx.prog} ${command} --help.`);
  if (command === 'config show') return runConfigShow({ projectRoot: ctx.projectRoot, env: ctx.env, flags: inv.flags, cwd: ctx.cwd }, out);
  const settings = await loadSettings({ projectRoot: ctx.projectRoot, env: ctx.env, flags: inv.flags, cwd: ctx.cwd });
  startRunLog(out, settings, ctx, argv, command);
  setTempRoot(settings.tempDir);
  const emit = (e: CacheEvent) => out.emit(e);
  setCommandTrace(out.wantsDebug() ? (line) => emit({ type: 'debug', message: line }) : undefined);
  try {
    if (command === 'list') return await runList(settings, out, emit);
    return await runCacheAdmin(command.slice('cache '.length) as CacheAdminCommand, { settings, flags: inv.flags, emit, out });
  } finally {
    setCommandTrace(undefined);
    setTempRoot(undefined);
  }
}

async function runInspect(inv: Invocation, ctx: CliContext, out: Output): Promise<number> {
  const [file, ...more] = inv.rest;
  if (file === undefined) throw new UserError('inspect needs an image file', `Usage: ${ctx.prog} inspect <image> [--json]`);
  if (more.length > 0) throw new UserError(`unexpected argument "${more[0]}"`, `Usage: ${ctx.prog} inspect <image> [--json]`);
  // Only for temp_dir, where the temporary raw copy goes; inspect keeps no run log.
  const settings = await loadSettings({ projectRoot: ctx.projectRoot, env: ctx.env, flags: inv.flags, cwd: ctx.cwd });
  const emit = (e: CacheEvent) => out.emit(e);
  setCommandTrace(out.verbose ? (line) => emit({ type: 'debug', message: line }) : undefined);
  try {
    const report = await inspectImage(path.resolve(ctx.cwd, file), { emit, tempDir: settings.tempDir });
    if (out.mode === 'json') out.result(JSON.stringify({ command: 'inspect', ...report }, null, 2));
    else out.result(renderReport(report).replace(/\n$/, ''));
    return ExitCode.ok;
  } finally {
    setCommandTrace(undefined);
  }
}

function renderBuild(r: BuildResult, out: Output): number {
  if (out.mode === 'json') out.result(JSON.stringify({ command: 'build', ...r }, null, 2));
  else {
    const c = r.compose;
    const stages = Object.entries(c.timings)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ');
    for (const a of c.artifacts) out.result(a.path);
    out.note(
      `${r.target}: ${formatBytes(c.imageBytes)} raw image, ${c.packages} packages (${r.cache.downloads} downloaded), chroot ${c.snapshot}, installed packages ${c.installed}, base image ${r.base.outcome}, composer image ${r.composer.refs[0]}; ${stages}; ${r.seconds.toFixed(1)} s in all`,
    );
    out.note(
      `${r.target}: ${c.boot ? `boots with ${c.boot.provider}, kernel ${c.boot.kernelVersion}` : 'no bootloader'}; SBOM ${c.sbom.path} (${c.sbom.packages} packages, ${c.sbom.licensed} with a declared licence); manifest ${c.manifest}`,
    );
  }
  return ExitCode.ok;
}

function renderBase(r: BaseResult, out: Output): number {
  if (out.mode === 'json') out.result(JSON.stringify({ command: 'base', ...r }, null, 2));
  else
    out.note(`${r.target}: base image ${r.base.ref} ${r.base.outcome} from ${r.base.packages} Essential packages (client ${r.client.bin}, ${r.client.mode})`);
  return ExitCode.ok;
}

function renderValidate(r: ValidateResult, out: Output): number {
  if (out.mode === 'json') out.result(JSON.stringify({ command: 'validate', ...r }, null, 2));
  else {
    out.result(stringifyYaml(r.template, { lineWidth: 0 }));
    out.note(`${r.target}: ${r.file} is valid (${r.providerId})${r.warnings.length ? `, ${r.warnings.length} warning(s)` : ''}`);
  }
  return ExitCode.ok;
}

function renderLock(r: LockResult, out: Output): number {
  if (out.mode === 'json') out.result(JSON.stringify({ command: 'lock', ...r }, null, 2));
  else {
    const what = `${r.packages} packages and ${r.tools} tools, ${formatBytes(r.bytes)}`;
    if (r.status === 'current') out.note(`${r.target}: ${r.lockFile} is up to date (${what}); use --update to resolve again`);
    else {
      const c = r.changes;
      if (c) {
        for (const n of c.added) out.result(`added    ${n}`);
        for (const n of c.removed) out.result(`removed  ${n}`);
        for (const x of c.changed) out.result(`changed  ${x.name} ${x.from} -> ${x.to}`);
      }
      out.note(`${r.target}: wrote ${r.lockFile} (${what})${c ? `: ${c.added.length} added, ${c.removed.length} removed, ${c.changed.length} changed` : ''}`);
    }
  }
  return ExitCode.ok;
}

function renderCheck(target: string, r: CheckReport, out: Output): number {
  if (out.mode === 'json') out.result(JSON.stringify({ command: 'cache --check', target, ...r }, null, 2));
  else if (r.ok) out.note(`${target}: all ${r.items} items present and verified; no refresh needed`);
  else {
    for (const f of r.needsRefresh) out.result(`needs refresh: ${f.item}: ${f.reason}`);
    out.note(`${target}: ${r.needsRefresh.length} of ${r.items} items need a refresh`);
  }
  return r.ok ? ExitCode.ok : ExitCode.failure;
}

function renderRefresh(target: string, r: RefreshReport, out: Output): number {
  if (out.mode === 'json') out.result(JSON.stringify({ command: 'cache', target, ...r }, null, 2));
  else {
    out.note(
      `${target}: ${r.items} items — ${r.hits.local} local, ${r.hits.shared} from shared, ${r.downloads} downloaded (${formatBytes(r.bytesDownloaded)})` +
        `${r.writtenBack ? `, ${r.writtenBack} written back to shared` : ''}${r.corrupt.length ? `, ${r.corrupt.length} corrupt copies replaced` : ''} in ${r.seconds.toFixed(2)} s`,
    );
  }
  for (const f of r.failures) out.error(`error: ${f.item}: ${f.url}: ${f.reason}`);
  for (const m of r.missing) out.error(`error: ${m}: not cached, and --offline forbids downloading it`);
  if (r.failures.some((f) => /HTTP 40[34]|HTTP 410/.test(f.reason))) {
    out.error(
      `hint: a file is gone from the mirror; if it is a locked package, the archive has moved on: run "${target} lock --update", or use a mirror that keeps old versions`,
    );
  }
  if (!r.ok)
    out.error(
      `error: ${r.failures.length ? `${new Set(r.failures.map((f) => f.item)).size} item(s) failed` : `${r.missing.length} item(s) missing`}; verified items were kept`,
    );
  return r.ok ? ExitCode.ok : ExitCode.failure;
}

function reportError(err: unknown, out: Output, prog: string): number {
  if (err instanceof UserError) {
    out.error(`error: ${err.message}`);
    if (err.hint) out.error(err.hint.replaceAll('<builder>', prog));
  } else if (err instanceof StepError) {
    out.error(`error: ${err.message}`);
  } else if (err instanceof InternalError || err instanceof Error) {
    out.error(`internal error: ${err.stack ?? err.message}`);
  } else {
    out.error(`internal error: ${String(err)}`);
  }
  cleanupNow();
  return exitCodeFor(err);
}

/** The project's version; 'unknown' only when there is no package.json (an unreadable one is an error, not hidden). */
function version(root: string): string {
  let text: string;
  try {
    text = readFileSync(path.join(root, 'package.json'), 'utf8');
  } catch (err) {
    if (isNotFound(err)) return 'unknown';
    throw err;
  }
  return (JSON.parse(text) as { version?: string }).version ?? 'unknown';
}
