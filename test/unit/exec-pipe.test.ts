// The commands whose output is bytes or streamed (runBinary, runStreaming, runDuplex), with real processes.
import { describe, expect, it } from 'vitest';
import { StepError } from '../../src/errors.js';
import { runBinary, runDuplex, runStreaming } from '../../src/exec.js';
import { rejectionOf } from '../support/failure.js';

const sh = (script: string) => ({ command: '/bin/sh', args: ['-c', script] });

describe('commands whose stdout is bytes', () => {
  it('give their stderr as text, in the result and in the error (runBinary)', async () => {
    const r = await runBinary(sh('printf "\\001\\002"; echo "warn é" >&2'));
    expect([...r.stdout]).toEqual([1, 2]);
    expect(r.stderr).toBe('warn é\n');
    const err = await rejectionOf(runBinary(sh('echo "bad input" >&2; exit 2')), StepError);
    expect(err.message).toBe('/bin/sh failed with exit code 2: bad input');
  });

  it('keep the output for a reader that starts later (runStreaming)', async () => {
    const streaming = runStreaming({ command: 'head', args: ['-c', '300000', '/dev/zero'] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    let n = 0;
    for await (const c of streaming.stdout) n += c.length;
    expect(n).toBe(300000);
    expect((await streaming.done).exitCode).toBe(0);
  });

  it('give their stderr as text when stdout is streamed (runStreaming, runDuplex)', async () => {
    const streaming = runStreaming(sh('printf data; echo "stream é" >&2; exit 3'));
    for await (const _ of streaming.stdout);
    expect(await streaming.done).toEqual({ exitCode: 3, stdout: '', stderr: 'stream é\n' });
    const duplex = runDuplex(sh('cat; echo "duplex" >&2'));
    duplex.stdin.end('in');
    const chunks: Buffer[] = [];
    for await (const c of duplex.stdout) chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe('in');
    expect(await duplex.done).toEqual({ exitCode: 0, stdout: '', stderr: 'duplex\n' });
  });
});
