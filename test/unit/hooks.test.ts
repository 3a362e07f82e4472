// The hooks' core (src/hooks/run.ts) with fake streams: a target from the
// environment is a value, never an option, and arguments are parsed with the
// CLI's option table.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHook } from '../../src/hooks/run.js';
import { captureStreams } from './streams.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-hooks-');

/** A project whose catalogue has one target, `latest`, with one item already in its local g3-cache. */
async function project(): Promise<{ root: string; env: Record<string, string> }> {
  const root = await tempDir();
  const g3 = path.join(root, 'g3');
  await mkdir(path.join(g3, 'tools'), { recursive: true });
  await writeFile(path.join(g3, 'tools', 'a.deb'), 'a');
  const sha = createHash('sha256').update('a').digest('hex');
  const targets = path.join(root, 'targets.yml');
  await writeFile(
    targets,
    `targets:\n  latest:\n    artifacts:\n      - section: tools\n        file: a.deb\n        url: http://127.0.0.1:9/a.deb\n        sha256: ${sha}\n        size: 1\n`,
  );
  return { root, env: { G3_TARGETS: targets, G3_LOCAL_CACHE: g3, G3_OFFLINE: '1' } };
}

async function hook(name: string, argv: string[], env: Record<string, string>, root: string) {
  const { text, streams } = captureStreams();
  const code = await runHook({ hook: name, argv, env, cwd: root, projectRoot: root, ...streams });
  return { code, ...text };
}

describe('a target from DOCKER_TAG is never an option', () => {
  it.each(['--help', '-h', '--version', '--targets=/etc/passwd', '--json'])('DOCKER_TAG=%s is refused as an invalid target name with exit 2', async (tag) => {
    const p = await project();
    const r = await hook('cache', [], { ...p.env, DOCKER_TAG: tag }, p.root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: target "${tag}" is not a valid target name`);
    expect(r.stdout).toBe('');
  });

  it.each(['help', 'list', 'inspect', 'config'])('DOCKER_TAG=%s is a target name, unknown in the catalogue', async (tag) => {
    const p = await project();
    const r = await hook('cache', [], { ...p.env, DOCKER_TAG: tag }, p.root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`unknown target "${tag}"`);
    expect(r.stdout).toBe('');
  });

  it('DOCKER_TAG=latest runs the hook for target latest', async () => {
    const p = await project();
    const r = await hook('cache', ['--json'], { ...p.env, DOCKER_TAG: 'latest' }, p.root);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ command: 'cache', target: 'latest', items: 1 });
  });
});

describe('hook arguments', () => {
  it('takes the target after a boolean option and the branch: --ignore-valid-until main latest', async () => {
    const p = await project();
    const r = await hook('cache', ['--ignore-valid-until', 'main', 'latest', '--json', '--verbose'], p.env, p.root);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).target).toBe('latest');
    expect(r.stderr).toContain('hooks/cache: target latest, branch main');
  });

  it('prints its own usage for --help and exits 0', async () => {
    const p = await project();
    const r = await hook('build', ['--help'], p.env, p.root);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: hooks\/build \[<branch>\] \[<target>\] \[options\]/);
  });

  it.each([
    [['main', 'latest', 'extra'], 'error: unexpected argument "extra"'],
    [['--chekc'], 'error: unknown option --chekc'],
    [['--check'], 'error: option --check does not apply to the push command'],
    [[], 'error: no target: pass one (hooks/push <branch> <target>) or set DOCKER_TAG'],
  ])('refuses %j with exit 2', async (argv, message) => {
    const p = await project();
    const r = await hook('push', argv, p.env, p.root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
