// The exec agent (src/docker/exec-agent.ts) with real processes: the Perl
// agent runs on this machine, started directly or through a fake docker
// client whose `exec` runs the command here, so every byte of the protocol,
// the environment, stdin, exit codes and the fallback to `docker exec` are real.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BuildContainer } from '../../src/compose/images/container.js';
import { cleanupNow } from '../../src/fs/cleanup.js';
import { Docker } from '../../src/docker/docker.js';
import { AGENT_SCRIPT, encodeRequest, ExecAgents, FrameReader, withoutFinalNewline } from '../../src/docker/exec-agent.js';
import { StepError } from '../../src/errors.js';
import { type RunResult, runDuplex } from '../../src/exec.js';
import type { CacheEvent } from '../../src/log/events.js';
import { rejectionOf } from '../support/failure.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-exec-agent-');

/** Agents started on this machine; `starts` counts the agent processes, `fallbacks` the commands run the other way. */
function localAgents(o: { command?: string; max?: number } = {}) {
  const counts = { starts: 0, fallbacks: 0, unavailable: [] as string[] };
  const agents = new ExecAgents({
    start: () => {
      counts.starts++;
      return runDuplex({ command: o.command ?? 'perl', args: ['-e', AGENT_SCRIPT] });
    },
    where: 'host',
    fallback: async (argv): Promise<RunResult> => {
      counts.fallbacks++;
      return { exitCode: 0, stdout: `fallback ${argv.join(' ')}`, stderr: '' };
    },
    onUnavailable: (why) => counts.unavailable.push(why),
    max: o.max,
  });
  return { agents, counts };
}

describe('the agent protocol', () => {
  it('encodes argv, environment and stdin as length-prefixed bytes', () => {
    const b = encodeRequest(['a', 'é'], { K: 'v' }, 'in');
    expect([...b]).toEqual([...[0, 0, 0, 2, 0, 0, 0, 1, 97, 0, 0, 0, 2, 0xc3, 0xa9], ...[0, 0, 0, 1, 0, 0, 0, 3, 75, 61, 118], ...[1, 0, 0, 0, 2, 105, 110]]);
    expect([...encodeRequest(['x'])].slice(-5)).toEqual([0, 0, 0, 0, 0]);
  });

  it('cuts frames out of chunks of any size', () => {
    const frame = (type: number, text: string) => Buffer.concat([Buffer.from([type, 0, 0, 0, text.length]), Buffer.from(text)]);
    const all = Buffer.concat([frame(1, 'hello'), frame(2, ''), frame(3, 'abcd')]);
    const reader = new FrameReader();
    const got = [...all].flatMap((byte) => reader.push(Buffer.from([byte])));
    expect(got.map((f) => [f.type, f.data.toString()])).toEqual([
      [1, 'hello'],
      [2, ''],
      [3, 'abcd'],
    ]);
    expect(reader.partial).toBe(0);
  });

  it('drops one final newline, as execa does for docker exec', () => {
    expect(['a\n', 'a\r\n', 'a\n\n', 'a', ''].map(withoutFinalNewline)).toEqual(['a', 'a', 'a\n', 'a', '']);
  });
});

describe('ExecAgents with the Perl agent', () => {
  it('runs many commands in one agent, each with its arguments, output and exit code', async () => {
    const { agents, counts } = localAgents();
    try {
      expect(await agents.run(['printf', '%s|', 'two words', 'new\nline', '', 'ünï'])).toEqual({
        exitCode: 0,
        stdout: 'two words|new\nline||ünï|',
        stderr: '',
      });
      expect(await agents.run(['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ exitCode: 3, stdout: 'out', stderr: 'err' });
      for (let i = 0; i < 20; i++) expect((await agents.run(['echo', String(i)])).stdout).toBe(String(i));
      expect(counts).toEqual({ starts: 1, fallbacks: 0, unavailable: [] });
    } finally {
      agents.close();
    }
  });

  it("adds the step's environment to the agent's, and gives stdin only when there is input", async () => {
    const { agents } = localAgents();
    try {
      const r = await agents.run(['sh', '-c', 'printf "%s|%s|" "$G3_A" "${PATH:+set}"; cat'], { env: { G3_A: 'x=y z' }, input: 'fed\n' });
      expect(r.stdout).toBe('x=y z|set|fed');
      // No input: stdin is /dev/null, so cat ends at once instead of waiting.
      expect(await agents.run(['sh', '-c', 'cat; readlink /proc/self/fd/0'])).toMatchObject({ exitCode: 0, stdout: '/dev/null' });
    } finally {
      agents.close();
    }
  });

  it('carries binary stdin and output far larger than a pipe holds, both ways at once', async () => {
    const { agents } = localAgents();
    try {
      const input = Buffer.alloc(8 * 1024 * 1024);
      for (let i = 0; i < input.length; i++) input[i] = (i * 7) % 251;
      // wc reads everything first; od writes while it reads, so the agent must read output while it writes input.
      expect((await agents.run(['wc', '-c'], { input })).stdout.trim()).toBe(String(input.length));
      const r = await agents.run(['od', '-An', '-tx1', '-v'], { input });
      const lines = r.stdout.split('\n');
      expect(lines).toHaveLength(input.length / 16);
      const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0'));
      expect(lines.at(-1)?.trim().split(/\s+/)).toEqual(hex(input.subarray(input.length - 16)));
      expect(lines[1]?.trim().split(/\s+/)).toEqual(hex(input.subarray(16, 32)));
    } finally {
      agents.close();
    }
  });

  it('reports 128+n for a command killed by signal n, and 127 or 126 when a command cannot run, as docker exec does', async () => {
    const { agents } = localAgents();
    const dir = await tempDir();
    const plain = path.join(dir, 'not-executable');
    await writeFile(plain, 'echo no\n');
    try {
      expect((await agents.run(['sh', '-c', 'kill -TERM $$'])).exitCode).toBe(143);
      const missing = await agents.run(['g3-no-such-command', 'x']);
      expect(missing.exitCode).toBe(127);
      expect(missing.stderr).toMatch(/cannot run g3-no-such-command: No such file or directory/);
      expect((await agents.run([plain])).exitCode).toBe(126);
      // The agent is still there for the next command.
      expect((await agents.run(['echo', 'after'])).stdout).toBe('after');
    } finally {
      agents.close();
    }
  });

  it('passes each line of both streams to onLine as it comes', async () => {
    const { agents } = localAgents();
    const lines: string[] = [];
    try {
      await agents.run(['sh', '-c', 'echo one; echo two >&2; printf three'], { onLine: (l) => lines.push(l) });
      expect(lines.sort()).toEqual(['one', 'three', 'two']);
    } finally {
      agents.close();
    }
  });

  it('starts another agent for a command run beside a busy one, up to max, then falls back', async () => {
    const { agents, counts } = localAgents({ max: 2 });
    try {
      const results = await Promise.all([1, 2, 3].map((i) => agents.run(['sh', '-c', `sleep 0.3; echo ${i}`])));
      expect(results.map((r) => r.stdout)).toEqual(['1', '2', 'fallback sh -c sleep 0.3; echo 3']);
      expect(counts).toMatchObject({ starts: 2, fallbacks: 1 });
      // Both agents are idle again and reused.
      await Promise.all([agents.run(['true']), agents.run(['true'])]);
      expect(counts.starts).toBe(2);
    } finally {
      agents.close();
    }
  });

  it('falls back to docker exec, saying so once, when the agent cannot start', async () => {
    const { agents, counts } = localAgents({ command: 'false' });
    expect((await agents.run(['echo', 'a'])).stdout).toBe('fallback echo a');
    expect((await agents.run(['echo', 'b'])).stdout).toBe('fallback echo b');
    expect(counts.starts).toBe(1);
    expect(counts.unavailable).toHaveLength(1);
    expect(counts.unavailable[0]).toMatch(/the exec agent in host did not start \(exit code 1/);
  });

  it('fails the running command, naming it, when the agent dies under it; the next command gets a new agent', async () => {
    const { agents, counts } = localAgents();
    try {
      // The command kills its parent, the agent.
      const err = await rejectionOf(agents.run(['sh', '-c', 'kill -KILL $PPID; sleep 5']), StepError);
      expect(err.message).toMatch(/^the exec agent in host ended while running sh -c kill -KILL \$PPID; sleep 5 \(exit code/);
      expect((await agents.run(['echo', 'again'])).stdout).toBe('again');
      expect(counts).toMatchObject({ starts: 2, fallbacks: 0 });
    } finally {
      agents.close();
    }
  });
});

describe('BuildContainer through a docker client', () => {
  /** A docker client whose `exec` runs the command on this machine (with its -e pairs), logging each call's verb. */
  async function fakeDocker(opts: { noPerl?: boolean; slowRm?: boolean } = {}) {
    const dir = await tempDir();
    const log = path.join(dir, 'log');
    const bin = path.join(dir, 'docker');
    await writeFile(
      bin,
      `#!/bin/sh
verb=$1; shift
case $verb in
  run) echo "run" >>"${log}"; echo 0123abcd ;;
  rm) echo "rm $*" >>"${log}"; ${opts.slowRm ? 'sleep 0.5' : ''} ;;
  exec)
    [ "$1" = -i ] && shift
    while [ "$1" = -e ]; do export "$2"; shift 2; done
    shift
    echo "exec $1" >>"${log}"
    ${opts.noPerl ? '[ "$1" = perl ] && { echo "exec: perl: not found" >&2; exit 127; }' : ''}
    exec "$@" ;;
esac
`,
    );
    await chmod(bin, 0o755);
    const events: CacheEvent[] = [];
    const docker = new Docker({ bin, mode: 'buildkit', version: '1' });
    const container = await BuildContainer.start(docker, { image: 'composer', mounts: [], privileged: false, emit: (e) => events.push(e) });
    return { container, events, log: async () => (await readFile(log, 'utf8')).trim().split('\n') };
  }

  it('runs every step through one docker exec of the agent, and fails a step with the message docker exec gives', async () => {
    const { container, log } = await fakeDocker();
    try {
      expect((await container.run(['sh', '-c', 'echo "$X"'], { env: { X: 'from env' } })).stdout).toBe('from env');
      expect((await container.run(['cat'], { input: 'in' })).stdout).toBe('in');
      const err = await rejectionOf(container.run(['sh', '-c', 'echo "E: broken" >&2; exit 100']), StepError);
      expect(err.message).toBe(`sh -c echo "E: broken" >&2; exit 100 in ${container.where} failed (exit code 100): E: broken`);
      expect(err.details.exitCode).toBe(100);
      expect(err.details.command?.slice(1, 3)).toEqual(['exec', container.name]);
      expect((await container.run(['sh', '-c', 'exit 4'], { reject: false })).exitCode).toBe(4);
    } finally {
      await container.stop();
    }
    expect(await log()).toEqual(['run', 'exec perl', `rm -f -v ${container.name}`]);
  });

  it('still removes the container on an interrupt while docker removes it, and no longer once it is removed', async () => {
    const { container, log } = await fakeDocker({ slowRm: true });
    const stopping = container.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(cleanupNow()).toBeGreaterThan(0);
    await stopping;
    expect(cleanupNow()).toBe(0);
    expect((await log()).filter((l) => l.startsWith('rm'))).toEqual([`rm -f -v ${container.name}`, `rm -f -v ${container.name}`]);
  });

  it('runs each step as a docker exec of its own, with one warning, when the image has no perl', async () => {
    const { container, events, log } = await fakeDocker({ noPerl: true });
    try {
      expect((await container.run(['echo', 'one'])).stdout).toBe('one');
      expect((await container.run(['sh', '-c', 'echo "$X"'], { env: { X: 'two' } })).stdout).toBe('two');
      const err = await rejectionOf(container.run(['sh', '-c', 'exit 3']), StepError);
      expect(err.message).toBe(`sh -c exit 3 in ${container.where} failed (exit code 3): `);
    } finally {
      await container.stop();
    }
    expect(await log()).toEqual(['run', 'exec perl', 'exec echo', 'exec sh', 'exec sh', `rm -f -v ${container.name}`]);
    const warnings = events.filter((e) => e.type === 'warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: expect.stringMatching(/did not start .*perl: not found.*each step runs as a docker exec of its own/) });
  });
});
