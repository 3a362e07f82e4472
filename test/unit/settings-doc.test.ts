import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config/schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('.g3-cache.example', () => {
  it.each(SETTINGS.flatMap((s) => s.env))('documents %s', async (name) => {
    const text = await readFile(path.join(root, '.g3-cache.example'), 'utf8');
    expect(text).toMatch(new RegExp(`^#?${name}=`, 'm'));
  });

  it.each(SETTINGS.flatMap((s) => s.env))('and the README names %s', async (name) => {
    const text = await readFile(path.join(root, 'README.md'), 'utf8');
    expect(text).toContain(name);
  });
});
