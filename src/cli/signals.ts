// On SIGINT/SIGTERM: remove our temporary files and locks, then exit 128+n.
import { cleanupNow } from '../fs/cleanup.js';

/** Install handlers once per process (entry points only). */
export function installSignalHandlers(): void {
  for (const [sig, n] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const) {
    process.once(sig, () => {
      cleanupNow();
      process.stderr.write(`\ninterrupted by ${sig}; temporary files and locks removed\n`);
      process.exit(128 + n);
    });
  }
}
