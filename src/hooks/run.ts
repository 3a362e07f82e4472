// Docker Hub-style hooks: `hooks/<name> [<branch>] [<target>] [options]`.
// Under an autobuild they get no arguments and read the environment Docker Hub
// sets: DOCKER_TAG (the target), SOURCE_BRANCH, SOURCE_COMMIT and COMMIT_MSG
// (recorded in labels and the report), DOCKER_REPO and IMAGE_NAME (where the
// image goes), DOCKERFILE_PATH (the composer Dockerfile in the build context).
// Arguments win over the environment: a positional target over DOCKER_TAG, a
// branch over SOURCE_BRANCH, --repo over DOCKER_REPO.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GLOBAL_OPTIONS, COMMAND_OPTIONS } from '../cli/args.js';
import { COMMANDS } from '../cli/help.js';
import { main } from '../cli/main.js';
import { installSignalHandlers } from '../cli/signals.js';
import { ExitCode } from '../errors.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Options that take a value, so their values are not mistaken for positionals. */
export const VALUE_OPTIONS = Object.entries({ ...GLOBAL_OPTIONS, ...Object.assign({}, ...Object.values(COMMAND_OPTIONS)) })
  .filter(([, o]) => (o as { type: string }).type === 'string')
  .map(([k]) => k);

export interface HookInput {
  hook: string;
  /** Positionals as zx's minimist found them. */
  positionals: string[];
  /** Everything else, passed through to the builder untouched. */
  options: string[];
  env: NodeJS.ProcessEnv;
}

/** Run a hook and return its exit code. */
export async function runHook(input: HookInput): Promise<number> {
  installSignalHandlers();
  const prog = `hooks/${input.hook}`;
  const [branchArg, targetArg, ...extra] = input.positionals;
  const target = targetArg ?? input.env.DOCKER_TAG;
  const branch = branchArg ?? input.env.SOURCE_BRANCH;
  const stderr = process.stderr;
  if (input.options.includes('--help') || input.options.includes('-h')) {
    process.stdout.write(
      `Usage: ${prog} [<branch>] [<target>] [options]\n\nAs Docker Hub autobuilds call hooks: with no arguments the target is DOCKER_TAG and the branch\nSOURCE_BRANCH; DOCKER_REPO (or IMAGE_NAME) names the repository, DOCKERFILE_PATH the composer\nDockerfile, SOURCE_COMMIT and COMMIT_MSG go into labels and the report. Arguments win over the\nenvironment (--repo over DOCKER_REPO). Options are those of ./builder.ts <target> ${input.hook}.\n\nExamples:\n  DOCKER_TAG=latest ${prog}\n  ${prog} main latest --verbose\n`,
    );
    return ExitCode.ok;
  }
  const command = input.hook;
  if (!COMMANDS[command]) {
    stderr.write(`${prog}: unknown hook "${command}"\n`);
    return ExitCode.usage;
  }
  if (extra.length > 0) {
    stderr.write(`${prog}: unexpected argument "${extra[0]}"\nUsage: ${prog} [<branch>] [<target>] [options]\n`);
    return ExitCode.usage;
  }
  if (!target) {
    stderr.write(`${prog}: no target: pass one (${prog} <branch> <target>) or set DOCKER_TAG\n`);
    return ExitCode.usage;
  }
  if (input.options.includes('--verbose') || input.options.includes('-v')) stderr.write(`${prog}: target ${target}${branch ? `, branch ${branch}` : ''}\n`);
  const env = branch ? { ...input.env, SOURCE_BRANCH: branch } : input.env;
  return main([target, command, ...input.options], { env, cwd: process.cwd(), projectRoot, prog, stdout: process.stdout, stderr: process.stderr });
}

/** Split raw hook arguments into positionals and pass-through options. */
export function splitHookArgs(args: string[], minimistPositionals: string[]): { positionals: string[]; options: string[] } {
  const positionals = new Set(minimistPositionals.map(String));
  const options: string[] = [];
  const found: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('-')) {
      options.push(a);
      const name = a.replace(/^-+/, '');
      if (!a.includes('=') && VALUE_OPTIONS.includes(name) && i + 1 < args.length) options.push(args[++i]!);
    } else if (positionals.has(a)) found.push(a);
    else options.push(a);
  }
  return { positionals: found, options };
}
