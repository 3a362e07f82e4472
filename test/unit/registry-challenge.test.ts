import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/registry/challenge.js';

describe('parseChallenges', () => {
  it.each([
    ['Basic realm="g3-test"', [{ scheme: 'basic', params: { realm: 'g3-test' } }]],
    ['basic REALM=plain', [{ scheme: 'basic', params: { realm: 'plain' } }]],
    [
      'Bearer realm="http://127.0.0.1:9/token",service="127.0.0.1:9",scope="repository:team/a:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'http://127.0.0.1:9/token', service: '127.0.0.1:9', scope: 'repository:team/a:pull,push' } }],
    ],
    ['Bearer  realm = "r" ,  service = s', [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }]],
    ['Basic realm="say \\"hi\\", ok"', [{ scheme: 'basic', params: { realm: 'say "hi", ok' } }]],
    [
      'Basic realm="a", Bearer realm="b", scope="repository:x:pull"',
      [
        { scheme: 'basic', params: { realm: 'a' } },
        { scheme: 'bearer', params: { realm: 'b', scope: 'repository:x:pull' } },
      ],
    ],
    [
      'Negotiate abc+/==, Basic realm="x"',
      [
        { scheme: 'negotiate', params: { token68: 'abc+/==' } },
        { scheme: 'basic', params: { realm: 'x' } },
      ],
    ],
    ['Negotiate', [{ scheme: 'negotiate', params: {} }]],
    ['', []],
    ['Basic realm="unterminated', [{ scheme: 'basic', params: { realm: 'unterminated' } }]],
  ])('parses %j', (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });

  it('skips stray characters instead of looping', () => {
    expect(parseChallenges('"; Basic realm=x').map((c) => c.scheme)).toEqual(['basic']);
  });
});
