import { describe, expect, it } from 'vitest';
import { commandHelp, mainHelp } from '../../src/cli/help.js';
import { COMMANDS, findCommand } from '../../src/cli/registry.js';
import { main } from '../../src/cli/main.js';
import { captureStreams } from './streams.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-help-');

async function run(argv: string[]) {
  const root = await tempDir();
  const { text, streams } = captureStreams();
  const code = await main(argv, { ...streams, env: {}, cwd: root, projectRoot: root, prog: 'builder' });
  return { code, ...text };
}

/** How a command is called: `<target> <cmd>` or the target-less words. */
const argvOf = (name: string) => (findCommand(name)?.targetless ? name.split(' ') : ['latest', name]);
const names = COMMANDS.map((c) => c.name);

describe('command help', () => {
  it.each(names)('%s --help exits 0 with usage, description, options and examples', async (name) => {
    const r = await run([...argvOf(name), '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^Usage: builder ${findCommand(name)?.targetless ? '' : '<target> '}${name}`));
    expect(r.stdout).toContain('Examples:\n');
    for (const option of Object.keys(findCommand(name)?.options ?? {})) expect(r.stdout).toContain(`--${option}`);
  });

  it.each(names)('%s: every example line calls that command with the program name', (name) => {
    const help = commandHelp('builder', name);
    const examples = help
      .slice(help.indexOf('Examples:\n') + 'Examples:\n'.length)
      .split('\n')
      .filter(Boolean);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    expect(examples.length).toBeLessThanOrEqual(4);
    // Environment assignments may come first (FORCE_BUILDING=1 builder ...).
    for (const line of examples) expect(line).toMatch(new RegExp(`^  (\\S+=\\S+ )*builder ${argvOf(name).join(' ')}( |$)`));
  });

  it.each([['-h'], ['--help']])('target-less commands also take %s before the subcommand options', async (flag) => {
    const r = await run(['cache', 'prune', flag, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: builder cache prune');
  });

  // Description and examples sit in each command's declaration, so none can be missing or left over for an unknown command.
  it.each(names)('%s declares a description and examples', (name) => {
    const c = findCommand(name);
    expect(c?.description.trim()).not.toBe('');
    expect(c?.examples('builder').length).toBeGreaterThanOrEqual(2);
  });

  it('shows the description before the options and the examples last', () => {
    const help = commandHelp('builder', 'push');
    const at = (s: string) => help.indexOf(s);
    expect(at('REGISTRY_USERNAME')).toBeGreaterThan(0);
    expect(at('REGISTRY_USERNAME')).toBeLessThan(at('Options of push:'));
    expect(at('Options of push:')).toBeLessThan(at('Global options:'));
    expect(at('Global options:')).toBeLessThan(at('Examples:'));
  });
});

describe('main help', () => {
  it.each([
    ['exit 0', /^ {2}0 +success$/m],
    ['exit 1', /^ {2}1 +failure .*--check found work$/m],
    ['exit 2', /^ {2}2 +usage or bad input/m],
    ['exit 130', /^ {2}130 +interrupted by Ctrl-C \(SIGINT\); 143 on SIGTERM/m],
    ['the settings order', /flags > environment > \.env >\s+config file > defaults/],
    ['the run log', /<work_dir>\/logs\/g3-composer\.log; G3_LOG_FILE/],
  ])('lists %s', (_what, pattern) => {
    expect(mainHelp('builder')).toMatch(pattern);
  });
});

describe('refusals', () => {
  it.each([
    ['an unknown target command', ['latest', 'biuld'], 'error: unknown command "biuld"', 'Did you mean "build"?'],
    ['an unknown command without a near one', ['latest', 'zzzzzz'], 'error: unknown command "zzzzzz"', 'Commands: cache, pre_build'],
    ['a target-less command given a target', ['latest', 'list'], 'error: unknown command "list"', 'Commands:'],
    ['an unknown config subcommand', ['config', 'shwo'], 'error: unknown config subcommand "shwo"', 'Usage: builder config show'],
    ['an unknown option', ['latest', 'build', '--privilegd'], 'error: unknown option --privilegd', 'Did you mean --privileged?'],
    ['an unknown short option', ['latest', 'build', '-x'], 'error: unknown option -x', 'See --help'],
    ['an option of another command', ['latest', 'build', '--update'], 'error: option --update does not apply to the build command', 'See --help.'],
    ['an unknown option of a target-less command', ['cache', 'prune', '--max-sise', '1G'], 'error: unknown option --max-sise', 'Did you mean --max-size?'],
  ])('refuses %s with exit 2 and a hint', async (_what, argv, message, hint) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(hint);
  });
});
