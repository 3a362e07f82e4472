// Run the test origin as its own process (for benchmarks and cross-process tests):
//   tsx test/support/origin-cli.ts --dir DIR [--port N] [--lifetime SECONDS]
//                                  [--latency-ms MS] [--rate-bytes BYTES_PER_SECOND]
// --latency-ms delays every response's headers (not /__stats); --rate-bytes
// limits each connection's bandwidth, like a distant mirror.
// Prints exactly one JSON line {"url": "...", "pid": N} to stdout once listening;
// anything else goes to stderr. GET /__stats returns {total, perPath}.
// Exits on SIGTERM/SIGINT or when the lifetime (default 10 minutes) ends.
import { parseArgs } from 'node:util';
import { startOrigin } from './origin.js';

// Parse the command line; a bad number is an error, not a silent default.
function parse(): { dir?: string; port: number; lifetimeMs?: number; latencyMs?: number; rateBytesPerSecond?: number } {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      port: { type: 'string' },
      lifetime: { type: 'string' },
      'latency-ms': { type: 'string' },
      'rate-bytes': { type: 'string' },
    },
  });
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`origin-cli: --${name} must be a non-negative number`);
    return n;
  };
  const lifetime = num('lifetime', values.lifetime);
  const rate = num('rate-bytes', values['rate-bytes']);
  if (rate === 0) throw new Error('origin-cli: --rate-bytes must be positive (leave it out for no limit)');
  return {
    latencyMs: num('latency-ms', values['latency-ms']),
    rateBytesPerSecond: rate,
    dir: values.dir,
    port: num('port', values.port) ?? 0,
    lifetimeMs: lifetime === undefined ? undefined : lifetime * 1000,
  };
}

// Start, announce, and wait for a signal or the end of the lifetime.
async function main(): Promise<void> {
  const args = parse();
  const origin = await startOrigin({ ...args, stats: true });
  const stop = () => void origin.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ url: origin.url, pid: process.pid })}\n`);
  await origin.closed;
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`origin-cli: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
