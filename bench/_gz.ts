import { gzipFile } from '../src/compose/outputs/gzip.js';
import { rm } from 'node:fs/promises';
for (const level of [6, 1, 6]) {
  await rm('/work/prof/d.raw.gz', { force: true });
  const t = performance.now();
  await gzipFile('/work/prof/d.raw', '/work/prof/d.raw.gz', { level, jobs: 4 });
  console.log(level, ((performance.now() - t) / 1000).toFixed(1), 's');
}
