// The Docker Hub hook pipeline for real: every hook runs with no arguments
// under an autobuild's environment (DOCKER_TAG, DOCKER_REPO, IMAGE_NAME,
// SOURCE_*, COMMIT_MSG, DOCKERFILE_PATH) against a real Docker daemon and a
// real registry on 127.0.0.1 (Debian's docker-registry, htpasswd auth).
// pre_build decides from the inputs digest; build makes the disk image and the
// image that carries it; push sends it with credentials from the environment;
// post_push writes the report. Then: nothing changed (everything skips),
// FORCE_BUILDING, PROHIBIT_BUILDING, a changed input, wrong credentials, `all`.
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { run } from '../../src/exec.js';
import type { BuildReport } from '../../src/pipeline/publish.js';
import { INPUTS_LABEL } from '../../src/pipeline/inputs.js';
import { pipelineStateDir as stateDir } from '../../src/layout/paths.js';
import { remoteImage } from '../../src/registry/client.js';
import { parseRef } from '../../src/registry/ref.js';
import { ROOT, type RunResult, runBuilder, runScript } from '../support/project.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const LONG = 900_000;
const DOCKER = '/usr/bin/docker';
const USER = 'pipeline-user';
const PASSWORD = 'pipeline-secret-Zq81';
const PROVIDER = 'debian-debian13-x86_64';

const TEMPLATE = [
  'image: {name: g3-pipeline, version: "0.1"}',
  'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
  'systemConfig:',
  '  name: pipeline',
  '  hostname: g3-pipeline',
  '  packages: [ca-certificates]',
  '  additionalFiles:',
  '    - {local: files/motd, final: /etc/motd}',
].join('\n');

describe('hooks pipeline with a real Docker daemon and registry', () => {
  let dir: string;
  let registry: TestRegistry;
  let env: Record<string, string>;
  const file = (...p: string[]) => path.join(dir, ...p);
  const repo = () => `${registry.host}/g3test/pipeline`;
  const hook = async (name: string, extra: Record<string, string> = {}, args: string[] = []): Promise<RunResult> => {
    const r = await runScript(path.join(ROOT, 'hooks', name), args, { ...env, ...extra });
    // No secret in anything a hook prints.
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    return r;
  };
  const ok = (r: RunResult) => expect(r.code, r.stderr.slice(-3000)).toBe(0);
  const decision = async () =>
    JSON.parse(await readFile(path.join(stateDir(file('work'), 'pipe'), 'pre_build.json'), 'utf8')) as {
      outcome: string;
      inputsDigest: string;
      reason: string;
      build: boolean;
    };
  const localLabels = async (ref: string): Promise<Record<string, string> | undefined> => {
    const r = await run({ command: DOCKER, args: ['image', 'inspect', '--format', '{{json .Config.Labels}}', ref] }, { reject: false });
    return r.exitCode === 0 ? (JSON.parse(r.stdout) as Record<string, string>) : undefined;
  };
  const removeLocal = async () => {
    for (const tag of ['pipe', 'itest']) await run({ command: DOCKER, args: ['image', 'rm', '-f', `${repo()}:${tag}`] }, { reject: false });
  };

  beforeAll(async () => {
    registry = await startRegistry({ auth: { username: USER, password: PASSWORD } });
    dir = await mkdtemp(path.join(tmpdir(), 'g3-pipeline-'));
    for (const f of ['Dockerfile', '.dockerignore']) await copyFile(path.join(ROOT, 'docker', f), file(f));
    const tools = (parseYaml(await readFile(path.join(ROOT, 'docker', 'targets.yml'), 'utf8')) as { targets: { latest: { tools: string[] } } }).targets.latest
      .tools;
    await mkdir(file('templates', 'files'), { recursive: true });
    await writeFile(file('templates', 'files', 'motd'), 'first motd\n');
    await writeFile(file('templates', 'pipe.yml'), TEMPLATE);
    await writeFile(
      file('targets.yml'),
      `targets:\n  pipe:\n    template: templates/pipe.yml\n    image: g3test/not-this-one\n    tags: [pipe, itest]\n    tools: [${tools.join(', ')}]\n`,
    );
    // What a Docker Hub autobuild sets; DOCKER_REPO wins over the target's `image:`.
    env = {
      G3_TARGETS: file('targets.yml'),
      G3_CACHE_DIR: file('cache'),
      G3_WORK_DIR: file('work'),
      SHARED_G3_CACHE_PATH: '',
      G3_DOCKER_CLIENT: DOCKER,
      SOURCE_DATE_EPOCH: '1750000000',
      DOCKER_TAG: 'pipe',
      SOURCE_BRANCH: 'main',
      SOURCE_COMMIT: '0123456789abcdef0123456789abcdef01234567',
      COMMIT_MSG: 'Pipeline test commit\n\nwith a body',
      DOCKER_REPO: repo(),
      IMAGE_NAME: `${repo()}:pipe`,
      DOCKERFILE_PATH: 'Dockerfile',
      REGISTRY_USERNAME: USER,
      REGISTRY_PASSWORD: PASSWORD,
    };
  }, LONG);
  afterAll(async () => {
    if (registry) await removeLocal();
    await registry?.stop();
    if (dir) await run({ command: 'rm', args: ['-rf', dir] }, { reject: false });
  });

  it('pre_build, build, push and post_push with no arguments: decide, build, push with credentials, report', { timeout: LONG }, async () => {
    const pre = await hook('pre_build');
    ok(pre);
    expect(pre.stderr).toContain(`no image ${repo()}:pipe yet`);
    const first = await decision();
    expect(first).toMatchObject({ outcome: 'changed', build: true });
    expect(first.inputsDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    ok(await hook('build'));
    // The build container was removed (while the image was made), before the hook exited.
    const left = await run({
      command: DOCKER,
      args: ['ps', '-a', '-q', '--filter', 'label=org.g3-composer.role=build', '--filter', 'label=org.g3-composer.target=pipe'],
    });
    expect(left.stdout.trim()).toBe('');
    const labels = await localLabels(`${repo()}:pipe`);
    expect(labels?.[INPUTS_LABEL]).toBe(first.inputsDigest);
    expect(labels?.['org.opencontainers.image.revision']).toBe(env.SOURCE_COMMIT);
    expect(labels?.['org.opencontainers.image.created']).toBe(new Date(1750000000 * 1000).toISOString());
    expect(labels?.['org.g3-composer.source-branch']).toBe('main');
    expect((await localLabels(`${repo()}:itest`))?.[INPUTS_LABEL]).toBe(first.inputsDigest);
    // The image carries the disk image as qcow2 (holes skipped) with the same contents as the raw, the SBOM and the manifest, under /disk/.
    const ctr = (await run({ command: DOCKER, args: ['create', `${repo()}:pipe`, '/none'] })).stdout.trim();
    try {
      await run({ command: DOCKER, args: ['cp', `${ctr}:/disk`, file('out')] });
    } finally {
      await run({ command: DOCKER, args: ['rm', ctr] }, { reject: false });
    }
    const stem = 'g3-pipeline-0.1';
    const built = path.join(file('work'), PROVIDER, 'imagebuild', 'pipeline');
    expect((await readdir(file('out'))).sort()).toEqual([`${stem}.manifest.json`, `${stem}.qcow2`, `${stem}.spdx.json`]);
    expect(
      (
        await run(
          { command: 'qemu-img', args: ['compare', '-f', 'qcow2', '-F', 'raw', file('out', `${stem}.qcow2`), path.join(built, `${stem}.raw`)] },
          { reject: false },
        )
      ).exitCode,
    ).toBe(0);
    // The manifest in the image is the one beside the disk image without its stage timings.
    const { timings, ...made } = JSON.parse(await readFile(path.join(built, `${stem}.manifest.json`), 'utf8')) as { timings: Record<string, number> };
    expect(Object.keys(timings).length).toBeGreaterThan(0);
    expect(JSON.parse(await readFile(file('out', `${stem}.manifest.json`), 'utf8'))).toEqual(made);
    await run({ command: 'rm', args: ['-rf', file('out')] });

    const push = await hook('push');
    ok(push);
    const remote = await remoteImage(parseRef(`${repo()}:pipe`), {
      credentials: { username: USER, password: PASSWORD, from: 'REGISTRY_*' },
      timeoutMs: 30_000,
    });
    expect(remote?.labels[INPUTS_LABEL]).toBe(first.inputsDigest);
    expect(push.stdout).toContain(`${repo()}:pipe@${remote?.digest}`);

    const post = await hook('post_push');
    ok(post);
    const reportFile = post.stdout.trim().split('\n').pop() as string;
    expect(reportFile).toBe(path.join(file('work'), PROVIDER, 'imagebuild', 'pipeline', 'g3-pipeline-0.1.report.json'));
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as BuildReport;
    expect(report.image.digest).toBe(remote?.digest);
    expect(report.image.tags.sort()).toEqual(['itest', 'pipe']);
    expect(report.inputsDigest).toBe(first.inputsDigest);
    expect(report.image.labels[INPUTS_LABEL]).toBe(first.inputsDigest);
    expect(Object.keys(report.stages)).toEqual(expect.arrayContaining(['packages', 'disk', 'image', 'total']));
    expect(report.cache.items).toBeGreaterThan(0);
    expect(report.cache.hitRate).toBeGreaterThanOrEqual(0);
    expect(report.cache.hitRate).toBeLessThanOrEqual(1);
    expect(report.source).toEqual({ branch: 'main', commit: env.SOURCE_COMMIT, message: 'Pipeline test commit' });
  });

  it('nothing changed (local image gone, the registry has it): pre_build says unchanged, the other hooks skip saying why', { timeout: LONG }, async () => {
    await removeLocal();
    const pre = await hook('pre_build');
    ok(pre);
    expect(pre.stderr).toContain(`unchanged: the image in the registry ${repo()}:pipe was built from the same inputs`);
    expect((await decision()).outcome).toBe('unchanged');
    for (const name of ['build', 'push', 'post_push']) {
      const r = await hook(name);
      ok(r);
      expect(r.stderr).toContain(`${name} skipped: pre_build found ${repo()}:pipe up to date`);
    }
    expect(await localLabels(`${repo()}:pipe`)).toBeUndefined();
  });

  it('FORCE_BUILDING=1 decides to build although nothing changed; PROHIBIT_BUILDING=1 never builds', { timeout: LONG }, async () => {
    const forced = await hook('pre_build', { FORCE_BUILDING: '1' });
    ok(forced);
    expect(forced.stderr).toContain('FORCE_BUILDING is set: building although');
    expect((await decision()).outcome).toBe('forced');
    const prohibited = await hook('build', { PROHIBIT_BUILDING: '1' });
    ok(prohibited);
    expect(prohibited.stderr).toContain('build skipped: PROHIBIT_BUILDING is set');
    expect(await localLabels(`${repo()}:pipe`)).toBeUndefined();
    const pre = await hook('pre_build', { PROHIBIT_BUILDING: '1' });
    ok(pre);
    expect((await decision()).outcome).toBe('prohibited');
  });

  it('all stops after pre_build when nothing changed, and reports each step in --json', { timeout: LONG }, async () => {
    const r = await runBuilder(['pipe', 'all', '--json'], env);
    ok(r);
    const doc = JSON.parse(r.stdout) as { command: string; steps: { step: string; outcome?: string }[] };
    expect(doc.command).toBe('all');
    expect(doc.steps.map((s) => s.step)).toEqual(['pre_build']);
    expect(doc.steps[0]?.outcome).toBe('unchanged');
  });

  it('a changed additional file is a changed input: pre_build names it, and all builds, pushes and reports', { timeout: LONG }, async () => {
    await writeFile(file('templates', 'files', 'motd'), 'second motd\n');
    const r = await runBuilder(['pipe', 'all'], env);
    ok(r);
    expect(r.stderr).toMatch(/pre_build: changed: .* was built from other inputs .*changed since the last build here: additionalFiles\[0\] files\/motd/);
    const now = await decision();
    const remote = await remoteImage(parseRef(`${repo()}:itest`), {
      credentials: { username: USER, password: PASSWORD, from: 'REGISTRY_*' },
      timeoutMs: 30_000,
    });
    expect(remote?.labels[INPUTS_LABEL]).toBe(now.inputsDigest);
    expect(r.stderr).toContain('pushed 2 reference(s)');
    expect(r.stdout).toContain('.report.json');
  });

  it('push with a wrong password fails with exit 1, never shows the password, and leaves no credentials behind', { timeout: LONG }, async () => {
    const wrong = 'wrong-password-Yx55';
    const r = await runScript(path.join(ROOT, 'hooks', 'push'), [], { ...env, FORCE_BUILDING: '1', REGISTRY_PASSWORD: wrong });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain(wrong);
    expect(r.stderr).toMatch(/unauthori[sz]ed|refused the credentials/i);
    const none = await runScript(path.join(ROOT, 'hooks', 'push'), [], { ...env, FORCE_BUILDING: '1', REGISTRY_USERNAME: '', REGISTRY_PASSWORD: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('set REGISTRY_USERNAME and REGISTRY_PASSWORD');
  });

  it('push takes an image from the same inputs that replaced the built one under its name, and refuses one from other inputs', { timeout: LONG }, async () => {
    const built = JSON.parse(await readFile(path.join(stateDir(file('work'), 'pipe'), 'build.json'), 'utf8')) as {
      inputsDigest: string;
      image: { id: string };
    };
    // A tiny image that claims the same inputs takes over both names; the one build made goes away.
    await writeFile(file('one-file'), 'x\n');
    await run({ command: 'tar', args: ['-C', dir, '-cf', file('tiny.tar'), 'one-file'] });
    const tiny = (
      await run({ command: DOCKER, args: ['import', '--change', `LABEL ${INPUTS_LABEL}=${built.inputsDigest}`, file('tiny.tar'), `${repo()}:pipe`] })
    ).stdout.trim();
    await run({ command: DOCKER, args: ['tag', tiny, `${repo()}:itest`] });
    await run({ command: DOCKER, args: ['image', 'rm', built.image.id] });
    const r = await hook('push', { FORCE_BUILDING: '1' });
    ok(r);
    expect(r.stderr).toContain('built from the same inputs: pushing that');
    const remote = await remoteImage(parseRef(`${repo()}:pipe`), {
      credentials: { username: USER, password: PASSWORD, from: 'REGISTRY_*' },
      timeoutMs: 30_000,
    });
    expect(remote?.labels[INPUTS_LABEL]).toBe(built.inputsDigest);
    // One that claims other inputs is not pushed in the build's name.
    const other = (
      await run({ command: DOCKER, args: ['import', '--change', `LABEL ${INPUTS_LABEL}=sha256:${'0'.repeat(64)}`, file('tiny.tar'), `${repo()}:pipe`] })
    ).stdout.trim();
    await run({ command: DOCKER, args: ['tag', other, `${repo()}:itest`] });
    await run({ command: DOCKER, args: ['image', 'rm', tiny] });
    const refused = await hook('push', { FORCE_BUILDING: '1' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is gone from the Docker daemon, and no image under its name has the same inputs');
  });
});
