// The origin server as a separate process (test/support/origin-cli.ts), and
// its per-path GET counters.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface Stats {
  total: number;
  perPath: Record<string, number>;
}

export interface OriginProcess {
  url: string;
  pid: number;
  stats(): Promise<Stats>;
  stop(): Promise<void>;
}

/** How the origin imitates a distant server (see test/support/origin.ts). */
export interface Shape {
  /** Delay before every response's headers. */
  latencyMs: number;
  /** Bandwidth of each connection, bytes per second. */
  rateBytesPerSecond: number;
}

/** Start the origin serving `dir` (shaped when `shape` is given); resolves once it has announced its URL. */
export async function startOriginProcess(
  projectRoot: string,
  dir: string,
  lifetimeSeconds: number,
  env: NodeJS.ProcessEnv,
  shape?: Shape,
): Promise<OriginProcess> {
  const cli = path.join(projectRoot, 'test', 'support', 'origin-cli.ts');
  const args = ['--import', 'tsx', cli, '--dir', dir, '--lifetime', String(lifetimeSeconds)];
  if (shape) args.push('--latency-ms', String(shape.latencyMs), '--rate-bytes', String(shape.rateBytesPerSecond));
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('the origin did not announce itself within 30 s')), 30_000);
    lines.once('line', (l) => {
      clearTimeout(timer);
      ok(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the origin exited (code ${code}) before announcing itself`));
    });
  });
  let announced: { url: string; pid: number };
  try {
    announced = JSON.parse(await first) as { url: string; pid: number };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const stats = async (): Promise<Stats> => {
    const res = await fetch(`${announced.url}/__stats`);
    if (!res.ok) throw new Error(`origin /__stats answered HTTP ${res.status}`);
    return (await res.json()) as Stats;
  };
  return { url: announced.url, pid: child.pid ?? announced.pid, stats, stop };
}

/** GETs per path between two snapshots (paths with no new GETs omitted). */
export function delta(before: Stats, after: Stats): Map<string, number> {
  const d = new Map<string, number>();
  for (const [p, n] of Object.entries(after.perPath)) {
    const k = n - (before.perPath[p] ?? 0);
    if (k !== 0) d.set(p, k);
  }
  return d;
}
