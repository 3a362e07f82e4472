// Integration tests use real parts: Debian tools on the host and a Docker
// daemon. Before they run, install what a fresh machine lacks and start the
// daemon when none answers; afterwards stop only a daemon started here.
import path from 'node:path';
import { run } from '../../src/exec.js';
import { ROOT } from './project.js';

const script = (name: string) => path.join(ROOT, 'scripts', name);

export async function setup(): Promise<() => Promise<void>> {
  await run({ command: script('setup-host.sh'), args: [] });
  const already = (await run({ command: script('docker-daemon.sh'), args: ['status'] }, { reject: false })).exitCode === 0;
  if (!already) {
    const r = await run({ command: script('docker-daemon.sh'), args: ['start'] }, { reject: false });
    if (r.exitCode !== 0) throw new Error(`the integration tests need a Docker daemon and scripts/docker-daemon.sh start failed:\n${r.stderr}`);
  }
  return async () => {
    if (!already) await run({ command: script('docker-daemon.sh'), args: ['stop'] }, { reject: false });
  };
}
