// The old path of the cache administration flags, kept while
// test/unit/cache-admin.test.ts imports from here; the code is in commands/.
export { cleanScope, pruneLimits } from './commands/cache-admin-run.js';
