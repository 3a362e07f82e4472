import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { formatSize, parseSize, sizeProblem } from '../../src/units/size.js';

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['512', 512],
    [4096, 4096],
    ['100B', 100],
    ['1K', 1024],
    ['1KiB', 1024],
    ['1KB', 1000],
    ['513MiB', 513 * 1024 ** 2],
    ['513M', 513 * 1024 ** 2],
    ['5MB', 5_000_000],
    ['4GiB', 4 * 1024 ** 3],
    ['4G', 4 * 1024 ** 3],
    ['2GB', 2_000_000_000],
    ['1TiB', 1024 ** 4],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['4gib', 4 * 1024 ** 3],
    [' 8 MiB ', 8 * 1024 ** 2],
  ] as const)('reads %j as %d bytes', (text, bytes) => {
    expect(parseSize(text, 'disk.size')).toBe(bytes);
  });

  it.each([
    ['', 'is not a size'],
    ['4 GiBs', 'is not a size'],
    ['-1M', 'is not a size'],
    ['4Gi', 'did you mean GiB?'],
    ['1.5', 'is not a whole number of bytes'],
    ['0.1K', 'is not a whole number of bytes'],
    [1.5, 'must be a whole, non-negative number of bytes'],
    [-4, 'must be a whole, non-negative number of bytes'],
    ['99999999TiB', 'is too large'],
  ] as const)('refuses %j naming the field', (text, problem) => {
    expect(sizeProblem(text)).toContain(problem);
    expect(() => parseSize(text, 'disk.partitions[1].end')).toThrow(UserError);
    expect(() => parseSize(text, 'disk.partitions[1].end')).toThrow(/^disk\.partitions\[1\]\.end /);
  });
});

describe('formatSize', () => {
  it.each([
    [4 * 1024 ** 3, '4GiB'],
    [513 * 1024 ** 2, '513MiB'],
    [1536, '1536 bytes'],
    [2048, '2KiB'],
    [0, '0 bytes'],
  ])('writes %d as %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});
