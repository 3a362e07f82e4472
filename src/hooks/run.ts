// Docker Hub-style hooks: `hooks/<name> [<branch>] [<target>] [options]`.
// Under an autobuild they get no arguments and read the environment Docker Hub
// sets: DOCKER_TAG (the target), SOURCE_BRANCH, SOURCE_COMMIT and COMMIT_MSG
// (recorded in labels and the report), DOCKER_REPO and IMAGE_NAME (where the
// image goes), DOCKERFILE_PATH (the composer Dockerfile in the build context).
// Arguments win over the environment: a positional target over DOCKER_TAG, a
// branch over SOURCE_BRANCH, --repo over DOCKER_REPO.
// Options are parsed with the CLI's own table (src/cli/args.ts, from the
// command registry: a hook takes the options of the command of its name), and the
// target is handed to the CLI as a value: a target from DOCKER_TAG, whatever
// it says, is never read as an option.
import { checkTargetName } from '../catalogue/target-name.js';
import { type HookArgs, type Invocation, parseHookArgs } from '../cli/args.js';
import { type CliContext, runInvocation } from '../cli/main.js';
import type { Streams } from '../cli/output.js';
import { findCommand } from '../cli/registry.js';
import type { Env } from '../env.js';
import { ExitCode, UserError } from '../errors.js';
import { escapeInline } from '../text/untrusted.js';

export interface HookInput extends Streams {
  hook: string;
  /** The hook's arguments as given. */
  argv: string[];
  env: Env;
  cwd: string;
  projectRoot: string;
}

/** Run a hook and return its exit code. */
export async function runHook(input: HookInput): Promise<number> {
  const prog = `hooks/${input.hook}`;
  let pre: HookArgs | undefined;
  try {
    pre = parseHookArgs(input.hook, input.argv);
  } catch {
    // parse() below throws it again, and the CLI reports it.
  }
  if (pre?.help) {
    input.stdout.write(hookHelp(prog, input.hook));
    return ExitCode.ok;
  }
  // The branch reaches the pipeline as SOURCE_BRANCH, as an autobuild sets it.
  const branch = pre?.branch ?? input.env.SOURCE_BRANCH;
  const env = branch === undefined ? input.env : { ...input.env, SOURCE_BRANCH: branch };
  const parse = (): Invocation => {
    if (findCommand(input.hook) === undefined) throw new UserError(`unknown hook "${input.hook}"`, 'Hooks: pre_build, build, push, post_push, cache.');
    const a = parseHookArgs(input.hook, input.argv);
    if (a.rest.length > 0) throw new UserError(`unexpected argument "${a.rest[0]}"`, `Usage: ${prog} [<branch>] [<target>] [options]`);
    const target = a.target ?? input.env.DOCKER_TAG;
    if (!target) throw new UserError(`no target: pass one (${prog} <branch> <target>) or set DOCKER_TAG`, `Usage: ${prog} [<branch>] [<target>] [options]`);
    checkTargetName(target);
    if (a.flags.verbose === true) input.stderr.write(`${prog}: target ${target}${branch ? `, branch ${escapeInline(branch)}` : ''}\n`);
    return { target, command: input.hook, rest: [], flags: a.flags, help: false, version: a.flags.version === true };
  };
  const ctx: CliContext = { env, cwd: input.cwd, projectRoot: input.projectRoot, prog, stdout: input.stdout, stderr: input.stderr };
  return runInvocation(parse, ctx, input.argv);
}

function hookHelp(prog: string, hook: string): string {
  return `Usage: ${prog} [<branch>] [<target>] [options]

As Docker Hub autobuilds call hooks: with no arguments the target is DOCKER_TAG and the branch
SOURCE_BRANCH; DOCKER_REPO (or IMAGE_NAME) names the repository, DOCKERFILE_PATH the composer
Dockerfile, SOURCE_COMMIT and COMMIT_MSG go into labels and the report. Arguments win over the
environment (--repo over DOCKER_REPO). Options are those of ./builder.sh <target> ${hook}.
A target, from an argument or DOCKER_TAG, is always a target name, never an option.

Examples:
  DOCKER_TAG=latest ${prog}
  ${prog} main latest --verbose
`;
}
