// runPipe, and the commands whose output is bytes (runBinary, runStreaming, runDuplex), with real processes.
import { describe, expect, it } from 'vitest';
import { StepError, UserError } from '../../src/errors.js';
import { runBinary, runDuplex, runPipe, runStreaming } from '../../src/exec.js';
import { rejectionOf } from '../support/failure.js';

const sh = (script: string) => ({ command: '/bin/sh', args: ['-c', script] });

describe('runPipe', () => {
  it("passes every byte of the source into the destination and returns the destination's result", async () => {
    // 64 MiB: far more than a pipe holds, so the bytes must flow while both run.
    const r = await runPipe({ command: 'head', args: ['-c', String(64 * 1024 * 1024), '/dev/zero'] }, { command: 'wc', args: ['-c'] });
    expect(r).toMatchObject({ exitCode: 0, stdout: String(64 * 1024 * 1024) });
  });

  it('hands each side its own environment', async () => {
    const r = await runPipe({ ...sh('printf %s "$A"'), env: { A: 'left' } }, { ...sh('printf "%s:" "$B"; cat'), env: { B: 'right' } });
    expect(r.stdout).toBe('right:left');
  });

  it('fails naming the source when the source fails, with its last words', async () => {
    const err = await rejectionOf(runPipe(sh('echo partial; echo "no such file" >&2; exit 3'), { command: 'cat', args: [] }), StepError);
    expect(err.message).toBe('/bin/sh failed with exit code 3: no such file');
  });

  it('fails naming the destination when it fails after reading everything', async () => {
    const err = await rejectionOf(runPipe(sh('printf x'), sh('cat >/dev/null; echo "archive refused" >&2; exit 5')), StepError);
    expect(err.message).toBe('/bin/sh failed with exit code 5: archive refused');
  });

  it('names both when the destination stops reading and the source then meets a broken pipe', async () => {
    const err = await rejectionOf(runPipe({ command: 'yes', args: [] }, sh('head -c 1 >/dev/null; echo "archive refused" >&2; exit 5')), StepError);
    expect(err.message).toMatch(/^yes failed with exit code \d+: .*; \/bin\/sh failed with exit code 5: archive refused$/);
  });

  it('leaves the exit codes to the caller with reject: false', async () => {
    const r = await runPipe(sh('printf x'), sh('cat >/dev/null; exit 7'), { reject: false });
    expect(r.exitCode).toBe(7);
  });

  it('names the package of a command that is not installed', async () => {
    const err = await rejectionOf(runPipe({ command: 'g3-no-such-tool', args: [] }, { command: 'cat', args: [] }, { fromPackage: 'g3-tools' }), UserError);
    expect(err.message).toBe('g3-no-such-tool is not installed');
    expect(err.hint).toContain('apt-get install g3-tools');
  });
});

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
