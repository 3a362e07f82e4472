// The old path of the `config show` table, kept while
// test/unit/config-secrets.test.ts imports from here; the code is in commands/.
export { renderConfig } from './commands/config.js';
