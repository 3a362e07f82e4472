// The builder CLI as a function: argv in, exit code out. builder.ts and the
// hooks call it; tests call it directly. It parses, looks the command up in
// the registry, sets up settings and the run log, runs the command's handler
// and renderer, and turns errors into exit codes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadSettings, type Settings } from '../config/load.js';
import type { Env } from '../env.js';
import { ExitCode, exitCodeFor, InternalError, StepError, UserError } from '../errors.js';
import { setCommandTrace } from '../exec.js';
import { cleanupNow } from '../fs/cleanup.js';
import { isNotFound } from '../fs/safe.js';
import { setTempRoot } from '../fs/temp.js';
import type { CacheEvent } from '../log/events.js';
import { openRunLog } from '../log/runlog.js';
import { closeFetch } from '../net/fetch.js';
import { closeRegistryConnections } from '../registry/http.js';
import { checkPositionals, commandOf, type Invocation, parseInvocation } from './args.js';
import type { CommandInput } from './command.js';
import { commandHelp, mainHelp } from './help.js';
import { createOutput, type Output, pickMode, type Streams } from './output.js';

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

async function dispatch(inv: Invocation, ctx: CliContext, out: Output, argv: string[]): Promise<number> {
  if (inv.version) {
    out.result(version(ctx.projectRoot));
    return ExitCode.ok;
  }
  if (inv.help && inv.command === undefined) {
    out.result(mainHelp(ctx.prog));
    return ExitCode.ok;
  }
  const command = commandOf(inv, ctx.prog);
  if (inv.help) {
    out.result(commandHelp(ctx.prog, command));
    return ExitCode.ok;
  }
  checkPositionals(command, inv.rest, ctx.prog);
  const input: CommandInput = {
    target: inv.target ?? '',
    args: inv.rest,
    flags: inv.flags,
    env: ctx.env,
    cwd: ctx.cwd,
    projectRoot: ctx.projectRoot,
    prog: ctx.prog,
    out,
    emit: (e: CacheEvent) => out.emit(e),
  };
  if (!command.loadsSettings) return command.execute(input);
  const settings = await loadSettings({ projectRoot: ctx.projectRoot, env: ctx.env, flags: inv.flags, cwd: ctx.cwd });
  if (command.runLog) startRunLog(out, settings, ctx, argv, inv.target === undefined ? command.name : `${inv.target} ${command.name}`);
  setTempRoot(settings.tempDir);
  setCommandTrace(out.wantsDebug() ? (line) => input.emit({ type: 'debug', message: line }) : undefined);
  try {
    return await command.execute(input, settings);
  } finally {
    setCommandTrace(undefined);
    setTempRoot(undefined);
    await closeFetch();
    await closeRegistryConnections();
  }
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
