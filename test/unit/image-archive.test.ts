import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { imageConfig, saveManifest } from '../../src/pipeline/image-archive.js';
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

describe('imageConfig', () => {
  const diffId = `sha256:${'a'.repeat(64)}`;
  const created = new Date(1_750_000_000_000);

  it('gives the same bytes whatever the order the labels were given in', () => {
    const a = JSON.stringify(imageConfig({ diffId, created, labels: { b: '2', a: '1' } }));
    const b = JSON.stringify(imageConfig({ diffId, created, labels: { a: '1', b: '2' } }));
    expect(a).toBe(b);
    expect(Object.keys(JSON.parse(a).config.Labels)).toEqual(['a', 'b']);
  });

  it('names the layer, the time and the platform', () => {
    expect(imageConfig({ diffId, created, labels: {} })).toMatchObject({
      architecture: 'amd64',
      os: 'linux',
      created: '2025-06-15T15:06:40.000Z',
      rootfs: { type: 'layers', diff_ids: [diffId] },
    });
  });

  it.each([
    ['another time', { created: new Date(1_750_000_001_000) }],
    ['another label', { labels: { a: '2' } }],
    ['another layer', { diffId: `sha256:${'b'.repeat(64)}` }],
  ])('changes with %s', (_what, change) => {
    const base = { diffId, created, labels: { a: '1' } };
    expect(sha(JSON.stringify(imageConfig({ ...base, ...change })))).not.toBe(sha(JSON.stringify(imageConfig(base))));
  });
});

describe('saveManifest', () => {
  it('is the docker save layout for one image with its tags', () => {
    expect(JSON.parse(saveManifest('abc.json', 'layer.tar', ['127.0.0.1:5000/a/b:1', '127.0.0.1:5000/a/b:2']))).toEqual([
      { Config: 'abc.json', RepoTags: ['127.0.0.1:5000/a/b:1', '127.0.0.1:5000/a/b:2'], Layers: ['layer.tar'] },
    ]);
  });
});
