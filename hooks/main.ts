// The hooks' entry point: `hooks/<name>` (a shell shim) runs scripts/launch.sh,
// which runs this file's bundle (dist/hooks.mjs) as `hooks.mjs <name> [args]`.
// Thin: it hands argv, the environment and the streams to src/hooks/run.ts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installSignalHandlers } from '../src/cli/signals.ts';
import { runHook } from '../src/hooks/run.ts';

// Run as hooks/main.ts or as its bundle dist/hooks.mjs: the project is one folder up either way.
const projectRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const [hook = '', ...argv] = process.argv.slice(2);
installSignalHandlers();
process.exitCode = await runHook({ hook, argv, env: process.env, cwd: process.cwd(), projectRoot, stdout: process.stdout, stderr: process.stderr });
