import { describe, expect, it } from 'vitest';
import { parseHookArgs, parseInvocation, suggest } from '../../src/cli/args.js';
import { GLOBAL_OPTIONS } from '../../src/cli/global-options.js';
import { findCommand } from '../../src/cli/registry.js';
import { UserError } from '../../src/errors.js';

function invocationError(argv: string[]): UserError {
  try {
    parseInvocation(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected parseInvocation to throw');
}

describe('parseInvocation', () => {
  it('reads target, command and no options', () => {
    expect(parseInvocation(['latest', 'cache'])).toEqual({ target: 'latest', command: 'cache', rest: [], flags: {}, help: false, version: false });
  });

  it.each([
    [['latest', 'cache', '--check', '--workers', '4']],
    [['latest', '--check', 'cache', '--workers', '4']],
    [['--workers', '4', 'latest', 'cache', '--check']],
    [['latest', 'cache', '--workers=4', '--check']],
  ])('accepts options in any position: %j', (argv) => {
    const inv = parseInvocation(argv);
    expect(inv).toMatchObject({ target: 'latest', command: 'cache', rest: [] });
    expect(inv.flags).toEqual({ check: true, workers: '4' });
  });

  it('reads short options and keeps extra positionals in rest', () => {
    const inv = parseInvocation(['latest', '-q', 'cache', 'extra', '-v']);
    expect(inv.rest).toEqual(['extra']);
    expect(inv.flags).toEqual({ quiet: true, verbose: true });
  });

  it.each([
    [['--help'], { help: true, target: undefined }],
    [['-h'], { help: true, target: undefined }],
    [['latest', 'cache', '--help'], { help: true, command: 'cache' }],
    [['--version'], { version: true, help: false }],
    [[], { target: undefined, command: undefined, help: false, version: false }],
  ])('reads %j', (argv, expected) => {
    expect(parseInvocation(argv)).toMatchObject(expected);
  });

  it('accepts every global option after any command', () => {
    for (const [name, spec] of Object.entries(GLOBAL_OPTIONS)) {
      const argv = ['latest', 'build', `--${name}`, ...(spec.type === 'string' ? ['x'] : [])];
      expect(Object.keys(parseInvocation(argv).flags)).toEqual([name]);
    }
  });

  it.each([
    ['--chekc', 'check'],
    ['--offlien', 'offline'],
    ['--worker', 'workers'],
    ['--shared-cahce', 'shared-cache'],
    ['--jsno', 'json'],
  ])('refuses the unknown option %s and suggests --%s', (option, near) => {
    const err = invocationError(['latest', 'cache', option]);
    expect(err.message).toBe(`unknown option ${option}`);
    expect(err.hint).toBe(`Did you mean --${near}? See --help.`);
  });

  it('refuses an unknown option without a suggestion when nothing is close', () => {
    const err = invocationError(['latest', 'cache', '--frobnicate-everything']);
    expect(err.message).toBe('unknown option --frobnicate-everything');
    expect(err.hint).toBe('See --help for the options.');
  });

  it('refuses an unknown short option', () => {
    expect(invocationError(['latest', 'cache', '-x']).message).toBe('unknown option -x');
  });

  it.each([
    [['latest', 'build', '--check'], 'option --check does not apply to the build command'],
    [['latest', 'push', '--verify'], 'option --verify does not apply to the push command'],
    [['--check'], 'option --check does not apply to this invocation'],
  ])('refuses an option of another command: %j', (argv, message) => {
    expect(invocationError(argv).message).toBe(message);
  });

  it('accepts the cache options with the cache command', () => {
    expect(Object.keys(findCommand('cache')?.options ?? {})).toEqual(['check', 'verify', 'push']);
    expect(parseInvocation(['latest', 'cache', '--check', '--verify']).flags).toEqual({ check: true, verify: true });
    expect(parseInvocation(['latest', 'cache', '--push']).flags).toEqual({ push: true });
  });

  it.each([
    [['latest', 'cache', '--workers'], /--workers <value>' argument missing/],
    [['latest', 'cache', '--json=1'], /'--json' does not take an argument/],
  ])('refuses a badly formed option %j as a usage error', (argv, message) => {
    const err = invocationError(argv);
    expect(err.message).toMatch(message);
    expect(err.hint).toBe('See --help.');
  });
});

describe('suggest', () => {
  it.each([
    ['cahce', ['cache', 'build', 'push'], 'cache'],
    ['biuld', ['cache', 'build', 'push'], 'build'],
    ['pus', ['cache', 'build', 'push'], 'push'],
    ['cache', ['cache', 'build'], 'cache'],
    ['all-nopush', ['all', 'all-no-push'], 'all-no-push'],
  ])('suggests %j for %j', (word, choices, expected) => {
    expect(suggest(word, choices)).toBe(expected);
  });

  it.each([
    ['zzzzzz', ['cache', 'build']],
    ['x', ['json', 'help']],
    ['anything', []],
  ])('suggests nothing for %j when no choice is close', (word, choices) => {
    expect(suggest(word, choices)).toBeUndefined();
  });

  it('allows more edits for longer words', () => {
    // A 9-letter word tolerates 3 edits; a 5-letter one only 2.
    expect(suggest('shrd-cche', ['shared-cache'])).toBe('shared-cache');
    expect(suggest('cxxxe', ['cache'])).toBeUndefined();
  });
});

describe('parseHookArgs', () => {
  it('knows boolean options from the one option table: --ignore-valid-until takes no value', () => {
    expect(parseHookArgs('build', ['--ignore-valid-until', 'main', 'latest'])).toEqual({
      branch: 'main',
      target: 'latest',
      rest: [],
      flags: { 'ignore-valid-until': true },
      help: false,
    });
  });

  it.each([
    [['main', 'latest', '--repo', 'me/img', '--verbose'], { branch: 'main', target: 'latest', flags: { repo: 'me/img', verbose: true } }],
    [['--repo=me/img', 'main'], { branch: 'main', target: undefined, flags: { repo: 'me/img' } }],
    [['-q', 'main', '--docker-client', 'docker', 'latest'], { branch: 'main', target: 'latest', flags: { quiet: true, 'docker-client': 'docker' } }],
    [[], { branch: undefined, target: undefined, flags: {} }],
  ])('reads branch, target and the values of value options: %j', (argv, expected) => {
    expect(parseHookArgs('build', argv)).toMatchObject(expected);
  });

  it('keeps positionals after the target in rest', () => {
    expect(parseHookArgs('cache', ['main', 'latest', 'extra']).rest).toEqual(['extra']);
  });

  it('reads --help and -h', () => {
    expect(parseHookArgs('push', ['-h']).help).toBe(true);
    expect(parseHookArgs('push', ['main', '--help']).help).toBe(true);
  });

  it.each([
    ['push', ['--check'], 'option --check does not apply to the push command'],
    ['cache', ['--privileged'], 'option --privileged does not apply to the cache command'],
    ['build', ['--ignore-valid-untill'], 'unknown option --ignore-valid-untill'],
  ])('refuses what the %s command does not take: %j', (hook, argv, message) => {
    let err: unknown;
    try {
      parseHookArgs(hook, argv);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(message);
  });
});

describe('parseInvocation after --', () => {
  it('reads everything after -- as positionals, never as options', () => {
    expect(parseInvocation(['--', '--help', 'cache'])).toMatchObject({ target: '--help', command: 'cache', help: false, flags: {} });
  });

  it('reads "help" in the target position as a request for the main help', () => {
    expect(parseInvocation(['help'])).toMatchObject({ target: undefined, command: undefined, help: true });
  });
});
