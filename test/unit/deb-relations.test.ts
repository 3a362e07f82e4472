import { describe, expect, it } from 'vitest';
import { Interner } from '../../src/deb/intern.js';
import { formatClause, formatRelation, parseRelationList, parseRelations } from '../../src/deb/relations.js';
import type { Clause, Relation } from '../../src/deb/types.js';
import { UserError } from '../../src/errors.js';

describe('parseRelations', () => {
  it.each<[string, string, Clause[]]>([
    ['an empty value', '', []],
    ['a blank value', '  \n ', []],
    ['a bare name', 'libc6', [[{ name: 'libc6' }]]],
    ['a name with a version', 'libc6 (>= 2.36)', [[{ name: 'libc6', op: '>=', version: '2.36' }]]],
    ['no space before the parenthesis', 'libc6(>=2.36)', [[{ name: 'libc6', op: '>=', version: '2.36' }]]],
    ['spaces inside the parentheses', 'libc6 (  >=   2.36  )', [[{ name: 'libc6', op: '>=', version: '2.36' }]]],
    ['an epoch and a revision', 'zlib1g (>= 1:1.2.0-3~bpo12+1)', [[{ name: 'zlib1g', op: '>=', version: '1:1.2.0-3~bpo12+1' }]]],
    ['several clauses', 'a, b (<< 2), c (= 1.0-1)', [[{ name: 'a' }], [{ name: 'b', op: '<<', version: '2' }], [{ name: 'c', op: '=', version: '1.0-1' }]]],
    [
      'alternatives',
      'default-mta | mail-transport-agent (>> 1), cron',
      [[{ name: 'default-mta' }, { name: 'mail-transport-agent', op: '>>', version: '1' }], [{ name: 'cron' }]],
    ],
    ['alternatives without spaces', 'a|b|c', [[{ name: 'a' }, { name: 'b' }, { name: 'c' }]]],
    ['an architecture qualifier', 'python3:any (>= 3.11~)', [[{ name: 'python3', archQualifier: 'any', op: '>=', version: '3.11~' }]]],
    ['a native qualifier', 'perl:native', [[{ name: 'perl', archQualifier: 'native' }]]],
    ['a concrete architecture', 'libc6:amd64', [[{ name: 'libc6', archQualifier: 'amd64' }]]],
    ['the obsolete < as <=', 'a (< 2)', [[{ name: 'a', op: '<=', version: '2' }]]],
    ['the obsolete > as >=', 'a (> 2)', [[{ name: 'a', op: '>=', version: '2' }]]],
    ['<= kept', 'a (<= 2)', [[{ name: 'a', op: '<=', version: '2' }]]],
    ['names with + . -', 'libstdc++6 (>= 12), libsdl2-2.0-0', [[{ name: 'libstdc++6', op: '>=', version: '12' }], [{ name: 'libsdl2-2.0-0' }]]],
    [
      'a folded value (newlines and tabs)',
      'a (>= 1),\n b\n  | c (<<\n\t2)\n',
      [[{ name: 'a', op: '>=', version: '1' }], [{ name: 'b' }, { name: 'c', op: '<<', version: '2' }]],
    ],
    ['CR LF line ends', 'a,\r\n b', [[{ name: 'a' }], [{ name: 'b' }]]],
    ['an architecture list, dropped', 'libc6 (>= 2) [amd64 !i386], b', [[{ name: 'libc6', op: '>=', version: '2' }], [{ name: 'b' }]]],
    ['build profiles, dropped', 'a <!nocheck> <stage1 cross>, b [linux-any] <!nodoc>', [[{ name: 'a' }], [{ name: 'b' }]]],
  ])('parses %s', (_what, value, expected) => {
    expect(parseRelations(value)).toStrictEqual(expected);
  });

  it.each([
    ['an empty clause', 'a, , b', 'missing package name'],
    ['a trailing comma', 'a, b,', 'missing package name'],
    ['a leading comma', ', a', 'missing package name'],
    ['an empty alternative', 'a | | b', 'missing package name'],
    ['an unknown operator', 'a (!= 1)', 'unknown version operator'],
    ['a missing operator', 'a (1.0)', 'unknown version operator'],
    ['a triple operator', 'a (>>= 1)', 'unknown version operator'],
    ['a missing version', 'a (>= )', 'missing version'],
    ['an unclosed parenthesis', 'a (>= 1, b', 'closing ")"'],
    ['two words in the version', 'a (>= 1 2)', 'closing ")"'],
    ['an unclosed architecture list', 'a [amd64, b', 'closing "]"'],
    ['an unclosed profile', 'a <!nocheck', 'closing ">"'],
    ['an empty qualifier', 'a: (>= 1)', 'empty architecture qualifier'],
    ['text after the relation', 'a b', 'unexpected text "b"'],
    ['a name starting with a symbol', 'a, @b', '"@" where a package name should start'],
  ])('rejects %s, naming the field and the bad text', (_what, value, why) => {
    let error: unknown;
    try {
      parseRelations(value, 'Pre-Depends');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    const message = (error as UserError).message;
    expect(message).toMatch(/^Pre-Depends: /);
    expect(message).toContain(why);
    expect((error as UserError).hint).toBeTruthy();
  });

  it('quotes the clause that failed, not only the whole value', () => {
    expect(() => parseRelations('good (>= 1), bad (>= ), also-good')).toThrow(/in "bad \(>= \)"/);
  });

  it('uses Depends as the default field name', () => {
    expect(() => parseRelations('a (')).toThrow(/^Depends: /);
  });
});

describe('parseRelationList', () => {
  it.each<[string, string, Relation[]]>([
    ['an empty value', '', []],
    ['provides with versions', 'mail-transport-agent, libfoo-abi (= 1.2)', [{ name: 'mail-transport-agent' }, { name: 'libfoo-abi', op: '=', version: '1.2' }]],
    [
      'breaks with qualifiers and folds',
      'a (<< 1:2.0~),\n b:any',
      [
        { name: 'a', op: '<<', version: '1:2.0~' },
        { name: 'b', archQualifier: 'any' },
      ],
    ],
  ])('parses %s', (_what, value, expected) => {
    expect(parseRelationList(value)).toStrictEqual(expected);
  });

  it.each([['Provides'], ['Conflicts'], ['Breaks']])('rejects alternatives in %s', (field) => {
    expect(() => parseRelationList('a | b', field)).toThrow(new RegExp(`^${field}: alternatives \\("\\|"\\), which ${field} does not allow`));
  });

  it('rejects a trailing comma', () => {
    expect(() => parseRelationList('a, b,', 'Conflicts')).toThrow(UserError);
  });
});

describe('formatRelation and formatClause', () => {
  it.each<[Relation, string]>([
    [{ name: 'a' }, 'a'],
    [{ name: 'a', op: '>=', version: '1.0' }, 'a (>= 1.0)'],
    [{ name: 'python3', archQualifier: 'any' }, 'python3:any'],
    [{ name: 'python3', archQualifier: 'any', op: '<<', version: '3.12' }, 'python3:any (<< 3.12)'],
  ])('formats %j as %s', (relation, text) => {
    expect(formatRelation(relation)).toBe(text);
  });

  it('joins alternatives with " | "', () => {
    expect(formatClause([{ name: 'a' }, { name: 'b', op: '=', version: '2' }])).toBe('a | b (= 2)');
  });

  it.each([['a, b (>= 1:2-3) | c:any, d (<< 4~)'], ['libc6 (>= 2.36), libgcc-s1 (>= 3.0) | libgcc1']])('round-trips %s', (text) => {
    expect(parseRelations(text).map(formatClause).join(', ')).toBe(text);
  });
});

describe('parseRelations with an Interner', () => {
  const values = ['libc6 (>= 2.36), libfoo1 | libbar1', 'libc6 (>= 2.36), libc6:any, zlib1g (>= 1:1.2.0)', 'libc6 (>=2.36), libfoo1'];

  it.each(values)('gives the same relations as without one: %s', (value) => {
    expect(parseRelations(value, 'Depends', new Interner())).toStrictEqual(parseRelations(value));
    expect(parseRelationList(value.replace(/\|/g, ','), 'Breaks', new Interner())).toStrictEqual(parseRelationList(value.replace(/\|/g, ',')));
  });

  it('shares one object for each relation written alike, and one clause for each lone relation', () => {
    const pool = new Interner();
    const [a, b, c] = values.map((v) => parseRelations(v, 'Depends', pool));
    expect(b![0]).toBe(a![0]);
    expect(b![0]![0]).toBe(a![0]![0]);
    // A qualified name is another relation; the same text with other spacing is another (equal) object.
    expect(b![1]![0]).not.toBe(a![0]![0]);
    expect(c![0]![0]).toStrictEqual(a![0]![0]);
    expect(c![1]![0]).toBe(a![1]![0]);
    expect(parseRelationList('libc6 (>= 2.36)', 'Breaks', pool)[0]).toBe(a![0]![0]);
  });

  it('forgets what it shared on clear()', () => {
    const pool = new Interner();
    const [rel] = parseRelationList('a-rather-long-package-name (>= 1:2.36-9+deb13u1)', 'Provides', pool);
    expect(parseRelationList('a-rather-long-package-name (>= 1:2.36-9+deb13u1)', 'Provides', pool)[0]).toBe(rel);
    pool.clear();
    expect(parseRelationList('a-rather-long-package-name (>= 1:2.36-9+deb13u1)', 'Provides', pool)[0]).not.toBe(rel);
  });

  it('still reports a bad relation after an equal good one was shared', () => {
    const pool = new Interner();
    parseRelations('libc6 (>= 2.36)', 'Depends', pool);
    expect(() => parseRelations('libc6 (>= 2.36) junk', 'Depends', pool)).toThrow(/unexpected text "junk"/);
  });
});
