#!/usr/bin/env -S node --import tsx
// g3-composer's command line: `./builder.ts <target> <command> [options]`.
// Thin: everything that does work is in src/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installSignalHandlers } from './src/cli/signals.ts';
import { main } from './src/cli/main.ts';

// Run as builder.ts, or as its bundle dist/builder.mjs (what builder.sh runs).
const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.basename(here) === 'dist' ? path.dirname(here) : here;
installSignalHandlers();
const code = await main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  projectRoot,
  prog: process.env.G3_PROG ?? './builder.ts',
  stdout: process.stdout,
  stderr: process.stderr,
});
process.exitCode = code;
