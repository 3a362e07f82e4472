// The command registry against what users see: every registered command is
// documented, and everything help lists is what parsing accepts, both read
// from the registry and compared.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commandOf, optionTable, parseHookArgs, parseInvocation } from '../../src/cli/args.js';
import { GLOBAL_OPTIONS } from '../../src/cli/global-options.js';
import { commandHelp, mainHelp } from '../../src/cli/help.js';
import { main } from '../../src/cli/main.js';
import { COMMANDS, findCommand } from '../../src/cli/registry.js';
import { SETTINGS } from '../../src/config/schema.js';
import { captureStreams } from './streams.js';
import { useTempDirs } from './tmpdir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tempDir = useTempDirs('g3-registry-');

/** The command names a help section lists: `  <name>  <summary>` lines under its heading, up to the blank line. */
function listed(help: string, heading: string): string[] {
  const start = help.indexOf(`${heading}\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const body = help.slice(start + heading.length + 1);
  const lines = body.slice(0, body.indexOf('\n\n')).split('\n');
  // Names are padded to 14 columns; `cache status` has a space inside.
  return lines.map((l) => l.slice(2, 16).trimEnd());
}

/** The option names a help section lists (`--name` on the left of each line). */
function listedOptions(help: string, heading: string): string[] {
  const start = help.indexOf(`${heading}\n`);
  if (start < 0) return [];
  const body = help.slice(start + heading.length + 1);
  return body
    .slice(0, body.indexOf('\n\n'))
    .split('\n')
    .map((l) => /^ {2}(?:-\w, | {4})--([\w-]+)/.exec(l)?.[1] ?? `unreadable: ${l}`);
}

/** argv that calls a command as help lists it: `<target> <name>`, or the target-less words. */
const argvOf = (name: string, targetless: boolean) => (targetless ? name.split(' ') : ['latest', name]);
const valuesFor = (type: 'string' | 'boolean') => (type === 'string' ? ['x'] : []);

describe('every registered command', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s has a summary, a description and 2-4 examples', (_name, c) => {
    expect(c.summary.trim().length).toBeGreaterThan(10);
    expect(c.description.trim().length).toBeGreaterThan(20);
    const examples = c.examples('builder');
    expect(examples.length).toBeGreaterThanOrEqual(2);
    expect(examples.length).toBeLessThanOrEqual(4);
  });

  it('has a name no other command has', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('shares an option name with other commands only with the same type, since all are parsed with one table', () => {
    const seen = new Map<string, string>();
    for (const c of COMMANDS)
      for (const [name, o] of Object.entries({ ...GLOBAL_OPTIONS, ...c.options })) {
        const shape = `${o.type} ${o.short ?? ''}`;
        expect(seen.get(name) ?? shape, `--${name} of ${c.name}`).toBe(shape);
        seen.set(name, shape);
      }
  });
});

describe('main help and parsing', () => {
  const help = mainHelp('builder');
  const shown = [...listed(help, 'Target commands:').map((n) => [n, false] as const), ...listed(help, 'Other commands:').map((n) => [n, true] as const)];

  it('lists exactly the registered commands, target ones under "Target commands"', () => {
    expect(shown.map(([n]) => n)).toEqual(COMMANDS.map((c) => c.name));
    for (const [name, targetless] of shown) expect(findCommand(name)?.targetless).toBe(targetless);
  });

  it.each(shown)('parses "%s" as help lists it into that command', (name, targetless) => {
    const inv = parseInvocation(argvOf(name, targetless));
    expect(inv).toMatchObject({ command: name, target: targetless ? undefined : 'latest' });
    expect(inv.rest).toEqual([]);
    expect(commandOf(inv, 'builder').name).toBe(name);
  });

  it('names every target-less command on its usage line', () => {
    const line = help.split('\n')[1] ?? '';
    const words = /\((.*)\)$/.exec(line)?.[1]?.split(', ') ?? [];
    const named = words.flatMap((w) => {
      const [first, subs] = w.split(' ');
      return subs ? subs.split('|').map((s) => `${first} ${s}`) : [first];
    });
    expect(named).toEqual(COMMANDS.filter((c) => c.targetless).map((c) => c.name));
  });

  it('says which commands keep no run log as the registry does', () => {
    const unlogged = COMMANDS.filter((c) => !c.runLog).map((c) => c.name);
    expect(help.replace(/\s+/g, ' ')).toContain(`Commands other than ${unlogged.join(' and ')} append to a run log`);
  });

  it('lists the global options parsing accepts after any command', () => {
    const names = listedOptions(help, 'Options (every command, anywhere after the command):');
    expect(names).toEqual(Object.keys(GLOBAL_OPTIONS));
    for (const name of names) {
      const spec = GLOBAL_OPTIONS[name];
      expect(Object.keys(parseInvocation(['list', `--${name}`, ...valuesFor(spec?.type ?? 'boolean')]).flags)).toEqual([name]);
    }
  });
});

describe('command help and parsing', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s accepts exactly the options its help lists as its own', (name, c) => {
    const names = listedOptions(commandHelp('builder', name), `Options of ${name}:`);
    expect(names).toEqual(Object.keys(c.options));
    for (const option of names) {
      const argv = [...argvOf(name, c.targetless), `--${option}`, ...valuesFor(c.options[option]?.type ?? 'boolean')];
      expect(parseInvocation(argv).flags).toHaveProperty(option);
    }
    // An option of no command at all is refused with a hint, whichever command it follows.
    expect(() => parseInvocation([...argvOf(name, c.targetless), '--no-such-option'])).toThrow(/unknown option --no-such-option/);
  });

  it('parses with the options of the registered commands and nothing else', () => {
    const declared = new Set([...Object.keys(GLOBAL_OPTIONS), 'version', ...COMMANDS.flatMap((c) => Object.keys(c.options))]);
    expect(new Set(Object.keys(optionTable()))).toEqual(declared);
  });
});

describe('settings flags', () => {
  const flagged = SETTINGS.filter((s): s is Extract<(typeof SETTINGS)[number], { flag: string }> => 'flag' in s);

  it.each(flagged.map((s) => [s.flag, s] as const))('--%s is accepted, typed as its setting, by some command', (flag, s) => {
    const owners = COMMANDS.filter((c) => flag in GLOBAL_OPTIONS || flag in c.options);
    expect(owners.length).toBeGreaterThan(0);
    for (const c of owners) {
      const spec = GLOBAL_OPTIONS[flag] ?? c.options[flag];
      expect(spec).toMatchObject({ type: s.kind === 'bool' ? 'boolean' : 'string', setting: s.key });
      expect(spec?.description).toContain(s.env[0]);
    }
  });

  it.each(flagged.filter((s) => s.flag in GLOBAL_OPTIONS).map((s) => [s.flag, s] as const))(
    'config show reports a global --%s as the flag it came from',
    async (flag, s) => {
      const root = await tempDir();
      const { text, streams } = captureStreams();
      // A string setting with a shape gets a value of that shape.
      const value = s.kind === 'int' ? ['4'] : s.kind === 'bool' ? [] : [s.key === 'cache_registry' ? '127.0.0.1:5000/x' : 'x'];
      const code = await main(['config', 'show', '--json', `--${flag}`, ...value], { ...streams, env: {}, cwd: root, projectRoot: root, prog: 'builder' });
      expect(code).toBe(0);
      expect(JSON.parse(text.stdout).settings[s.key]).toMatchObject({ source: 'flag', from: `--${flag}` });
    },
  );
});

describe('hooks', () => {
  const hooks = readdirSync(path.join(ROOT, 'hooks')).filter((f) => !f.includes('.'));

  it.each(hooks)('hooks/%s runs a registered target command and takes its options', (hook) => {
    const c = findCommand(hook);
    expect(c?.targetless).toBe(false);
    for (const [option, spec] of Object.entries(c?.options ?? {}))
      expect(parseHookArgs(hook, ['main', 'latest', `--${option}`, ...valuesFor(spec.type)]).flags).toHaveProperty(option);
  });
});
