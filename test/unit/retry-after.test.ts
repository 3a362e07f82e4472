import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/net/retry-after.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    [' 5 ', 5000],
  ])('reads delay-seconds %j as milliseconds', (value, ms) => {
    expect(parseRetryAfter(value, NOW)).toBe(ms);
  });

  it('reads an HTTP date in the future as the time until then', () => {
    expect(parseRetryAfter('Sun, 01 Jun 2025 12:00:30 GMT', NOW)).toBe(30_000);
  });

  it.each(['Sun, 01 Jun 2025 11:59:00 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT'])('reads the HTTP date %j in the past as no wait', (value) => {
    expect(parseRetryAfter(value, NOW)).toBe(0);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['blank', '   '],
    ['garbage', 'soon'],
    ['an empty array', [] as string[]],
  ])('gives undefined for a header that is %s', (_what, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it.each([
    ['a negative number', '-5'],
    ['a fraction', '1.5'],
    ['words with a number', 'wait 5'],
  ])('gives undefined for a header that is %s', (_what, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it('uses the first value of a repeated header', () => {
    expect(parseRetryAfter(['3', '99'], NOW)).toBe(3000);
    expect(parseRetryAfter(['Sun, 01 Jun 2025 12:00:10 GMT', '1'], NOW)).toBe(10_000);
  });
});
