// One reading of a size everywhere: a template's disk size and
// `cache prune --max-size` give the same bytes for the same text.
import { describe, expect, it } from 'vitest';
import { parseSize as maxSize } from '../../src/units/age.js';
import { parseSize as templateSize } from '../../src/units/size.js';
import { readSize } from '../../src/units/size.js';

describe('one size reading', () => {
  it.each([
    ['500MB', 500_000_000],
    ['500M', 500 * 1024 ** 2],
    ['500MiB', 500 * 1024 ** 2],
    ['4GiB', 4 * 1024 ** 3],
    ['2GB', 2_000_000_000],
    ['1.5T', 1.5 * 1024 ** 4],
    ['1PiB', 1024 ** 5],
    ['1PB', 1000 ** 5],
    ['64kb', 64_000],
    ['1048576', 1048576],
  ])('reads %j as %d bytes in a template and in cache prune --max-size', (text, bytes) => {
    expect(readSize(text)).toBe(bytes);
    expect(templateSize(text, 'disk.size')).toBe(bytes);
    expect(maxSize(text)).toBe(bytes);
  });

  it.each([
    ['lots', 'not-a-size', /^--max-size "lots" is not a size$/],
    ['0.1K', 'not-whole', /^--max-size "0.1K" is not a whole number of bytes$/],
    ['99999999TiB', 'too-large', /^--max-size "99999999TiB" is too large$/],
  ] as const)('refuses %j in both, as %s', (text, kind, message) => {
    expect(readSize(text)).toMatchObject({ kind });
    expect(() => templateSize(text, 'disk.size')).toThrow(/^disk\.size /);
    expect(() => maxSize(text)).toThrow(message);
  });
});
