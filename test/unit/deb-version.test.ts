import { beforeAll, describe, expect, it } from 'vitest';
import type { RelOp } from '../../src/deb/types.js';
import { compareVersions, satisfies } from '../../src/deb/version.js';
import { run } from '../../src/exec.js';

type Order = 'lt' | 'eq' | 'gt';

// Pairs where the order is easy to get wrong. The stated order documents intent;
// dpkg itself is the reference both it and compareVersions are checked against.
const PAIRS: [string, string, Order][] = [
  ['1.0', '1.0', 'eq'],
  ['1.0', '1.0-0', 'eq'],
  ['1.0-0', '1.0', 'eq'],
  ['0:1.0', '1.0', 'eq'],
  ['01:1.0', '1:1.0', 'eq'],
  ['001', '1', 'eq'],
  ['1.01', '1.1', 'eq'],
  ['1.001', '1.1', 'eq'],
  ['1.2.3-4', '1.2.3-4', 'eq'],
  ['1.0~rc1', '1.0', 'lt'],
  ['1.0~', '1.0', 'lt'],
  ['1.0~~', '1.0~', 'lt'],
  ['1.0~~a', '1.0~~', 'gt'],
  ['1.0~', '1.0~~~', 'gt'],
  ['1.0~beta', '1.0~alpha', 'gt'],
  ['1.0~rc1-1', '1.0-1', 'lt'],
  ['1.0-1~', '1.0-1', 'lt'],
  ['1.0+~', '1.0+', 'lt'],
  ['0', '0~', 'gt'],
  ['3.11~', '3.11.0', 'lt'],
  ['1.0+1', '1.0', 'gt'],
  ['1.0.1', '1.0+1', 'gt'],
  ['1.0+b1', '1.0.1', 'lt'],
  ['1.0a', '1.0+', 'lt'],
  ['1.0a', '1.0', 'gt'],
  ['1.0a', '1.0A', 'gt'],
  ['1.0', '1.0a~', 'lt'],
  ['1.0-a', '1.0-1', 'gt'],
  ['1.0-1build1', '1.0-1+b1', 'lt'],
  ['1.0-1ubuntu1', '1.0-1', 'gt'],
  ['1.10', '1.9', 'gt'],
  ['12', '9', 'gt'],
  ['1.0', '1.0.0', 'lt'],
  ['1.0.0~', '1.0', 'gt'],
  ['2.0.0', '2.0-0', 'gt'],
  ['1.0-1', '1.0-1.1', 'lt'],
  ['1.0-0', '1.0-0.0', 'lt'],
  ['1.0-1-1', '1.0-1', 'gt'],
  ['1:1.0', '2.0', 'gt'],
  ['1:0.1', '0:9.9', 'gt'],
  ['2:1.0', '1:9.9', 'gt'],
  ['10:1', '9:2', 'gt'],
  ['1:1.2.0', '1.2.0', 'gt'],
  ['1:1.0-1', '1:1.0-1~', 'gt'],
  ['1.0-1', '1.0-1~bpo12+1', 'gt'],
  ['1.0-1~bpo12+1', '1.0-1~bpo11+1', 'gt'],
  ['2.36-9+deb12u1', '2.36-9', 'gt'],
  ['2.36-9+deb12u10', '2.36-9+deb12u9', 'gt'],
  ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12', 'lt'],
  ['1.2+really1.1-1', '1.2-1', 'gt'],
  ['1.2+really1.1-1', '1.3-1', 'lt'],
  ['1.0+dfsg-1', '1.0-1', 'gt'],
  ['1.0+dfsg-1', '1.0.0-1', 'lt'],
  ['0.9.20140610', '1.9', 'lt'],
  ['1.9.20140610', '1.9', 'gt'],
  ['72.1~rc-1~', '72.1-1', 'lt'],
];

const OPS: RelOp[] = ['<<', '<=', '=', '>=', '>>'];
const SATISFIES: [string, string][] = [
  ['1.0', '1.0-0'],
  ['1.0~rc1', '1.0'],
  ['1:0.1', '9.9'],
  ['2.36-9+deb12u1', '2.36-9'],
];

async function dpkgSays(a: string, op: string, b: string): Promise<boolean> {
  const r = await run({ command: 'dpkg', args: ['--compare-versions', a, op, b] }, { reject: false, package: 'dpkg' });
  if (r.exitCode > 1) throw new Error(`dpkg --compare-versions ${a} ${op} ${b} failed: ${r.stderr}`);
  return r.exitCode === 0;
}

async function dpkgOrder(a: string, b: string): Promise<Order> {
  const [lt, gt] = await Promise.all([dpkgSays(a, 'lt', b), dpkgSays(a, 'gt', b)]);
  return lt ? 'lt' : gt ? 'gt' : 'eq';
}

function orderOf(n: number): Order {
  return n < 0 ? 'lt' : n > 0 ? 'gt' : 'eq';
}

const reference = new Map<string, Order>();
const relations = new Map<string, boolean>();

beforeAll(async () => {
  // dpkg is the reference; run it for every pair up front (about 150 short processes).
  for (const [a, b] of PAIRS) reference.set(`${a} ${b}`, await dpkgOrder(a, b));
  for (const [a, b] of SATISFIES) {
    for (const op of OPS) {
      relations.set(`${a} ${op} ${b}`, await dpkgSays(a, op, b));
      relations.set(`${b} ${op} ${a}`, await dpkgSays(b, op, a));
    }
  }
}, 60_000);

describe('compareVersions', () => {
  it('covers at least 40 tricky pairs', () => {
    expect(PAIRS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(PAIRS)('orders %s against %s as dpkg does (%s)', (a, b, stated) => {
    const dpkg = reference.get(`${a} ${b}`);
    expect(dpkg).toBe(stated);
    expect(orderOf(compareVersions(a, b))).toBe(dpkg);
    // The order is antisymmetric.
    expect(orderOf(compareVersions(b, a))).toBe(dpkg === 'lt' ? 'gt' : dpkg === 'gt' ? 'lt' : 'eq');
  });
});

describe('satisfies', () => {
  it.each(SATISFIES.flatMap(([a, b]) => OPS.flatMap((op) => [[a, op, b] as const, [b, op, a] as const])))('answers %s %s %s as dpkg does', (v, op, ref) => {
    const dpkg = relations.get(`${v} ${op} ${ref}`);
    expect(typeof dpkg).toBe('boolean');
    expect(satisfies(v, op, ref)).toBe(dpkg);
  });

  it.each<[string, RelOp, string, boolean]>([
    ['1.0', '<<', '1.0', false],
    ['1.0', '<=', '1.0', true],
    ['1.0', '=', '1.0-0', true],
    ['1.0', '>=', '1.0', true],
    ['1.0', '>>', '1.0', false],
    ['1.0~', '<<', '1.0', true],
    ['1.1', '>>', '1.0', true],
  ])('says %s %s %s is %s', (v, op, ref, expected) => {
    expect(satisfies(v, op, ref)).toBe(expected);
  });
});
