// Integration tests use real parts: Debian tools on the host and a Docker
// daemon. Before they run, install what a fresh machine lacks and start the
// daemon when none answers; afterwards stop only a daemon started here.
// Around the run, the project's own cache/, workspace/ and docker/ are listed:
// the teardown fails the run when a test created, changed or removed anything
// there (see checkout-guard.ts).
import path from 'node:path';
import { run } from '../../src/exec.js';
import { changes, guardMessage, listGuarded } from './checkout-guard.js';
import { ROOT } from './project.js';

const script = (name: string) => path.join(ROOT, 'scripts', name);

export async function setup(): Promise<() => Promise<void>> {
  const before = await listGuarded(ROOT);
  await run({ command: script('setup-host.sh'), args: [] });
  const already = (await run({ command: script('docker-daemon.sh'), args: ['status'] }, { reject: false })).exitCode === 0;
  if (!already) {
    const r = await run({ command: script('docker-daemon.sh'), args: ['start'] }, { reject: false });
    if (r.exitCode !== 0) throw new Error(`the integration tests need a Docker daemon and scripts/docker-daemon.sh start failed:\n${r.stderr}`);
  }
  return async () => {
    if (!already) await run({ command: script('docker-daemon.sh'), args: ['stop'] }, { reject: false });
    const found = changes(before, await listGuarded(ROOT));
    if (found.length > 0) {
      // Vitest only prints an error thrown by a teardown ("error during close") and still exits 0.
      process.exitCode = 1;
      throw new Error(guardMessage(ROOT, found));
    }
  };
}
