// Each pipeline step reads the catalogue once and the target's template once,
// and hands what it opened to the commands it calls (cache, build). The
// readers are wrapped in spies that count; Docker is stubbed out so `build`
// stops right after it has refreshed the caches and opened everything.
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadCatalogue } from '../../src/catalogue/load.js';
import { build } from '../../src/commands/build.js';
import { loadSettings, type Settings } from '../../src/config/load.js';
import { requestDigest, writeLock } from '../../src/lock/file.js';
import { LOCK_VERSION, type LockedSet } from '../../src/lock/types.js';
import { openTemplateTarget } from '../../src/packages/target.js';
import { postPushStep, pushStep } from '../../src/pipeline/publish.js';
import { buildStep, preBuild, type StepContext } from '../../src/pipeline/steps.js';
import { loadTemplate } from '../../src/template/load.js';
import { useTempDirs } from './tmpdir.js';

vi.mock('../../src/catalogue/load.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/catalogue/load.js')>();
  return { ...real, loadCatalogue: vi.fn(real.loadCatalogue) };
});
vi.mock('../../src/template/load.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/template/load.js')>();
  return { ...real, loadTemplate: vi.fn(real.loadTemplate) };
});
const NO_DOCKER = 'no Docker in unit tests';
vi.mock('../../src/docker/client.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/docker/client.js')>();
  return {
    ...real,
    detectClient: vi.fn(async () => {
      throw new Error(NO_DOCKER);
    }),
  };
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIRRORS = { G3_MIRROR: 'http://127.0.0.1:9/debian', G3_SECURITY_MIRROR: 'http://127.0.0.1:9/debian-security' };
const USER = [
  'image: {name: img, version: "1"}',
  'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
  'systemConfig:',
  '  packages: [vim]',
  '',
].join('\n');
const tempDir = useTempDirs('g3-opens-');

/**
 * A project whose target "img" has a template and a lock that matches it with
 * no packages, so a cache refresh has nothing to fetch and needs no network.
 */
async function project(): Promise<{ settings: Settings; userTemplate: string }> {
  const root = await tempDir();
  await cp(path.join(ROOT, 'defaults', 'templates'), path.join(root, 'defaults', 'templates'), { recursive: true });
  await cp(path.join(ROOT, 'defaults', 'keyrings'), path.join(root, 'defaults', 'keyrings'), { recursive: true });
  await writeFile(path.join(root, 'package.json'), '{"version": "0.0.1"}\n');
  await mkdir(path.join(root, 'docker', 'templates'), { recursive: true });
  const userTemplate = path.join(root, 'docker', 'templates', 'img.yml');
  await writeFile(userTemplate, USER);
  await writeFile(path.join(root, 'docker', 'Dockerfile'), 'FROM scratch\n');
  const catalogue = path.join(root, 'docker', 'targets.yml');
  await writeFile(catalogue, 'targets:\n  img:\n    template: templates/img.yml\n');
  const settings = await loadSettings({ projectRoot: root, env: { G3_TARGETS: catalogue, ...MIRRORS }, flags: {}, cwd: root, aptRoot: root });
  const t = await openTemplateTarget(settings, 'img', () => undefined);
  const none: LockedSet = { requested: [], base: 'required', baseSet: [], packages: [], installOrder: [] };
  const req = t.plan.request;
  await writeLock(t.lockFile, {
    lockVersion: LOCK_VERSION,
    target: 'img',
    providerId: req.providerId,
    arch: req.arch,
    requestDigest: requestDigest(req),
    request: req,
    repositories: [],
    image: none,
    tools: none,
  });
  // The graphs go beside the packages; with none to fetch, nothing else makes the folder.
  await mkdir(t.pkgDir, { recursive: true });
  return { settings, userTemplate };
}

/** What a run opened: catalogue loads, and loads of the target's own template file. */
function opens(userTemplate: string): { catalogue: number; template: number } {
  return {
    catalogue: vi.mocked(loadCatalogue).mock.calls.length,
    template: vi.mocked(loadTemplate).mock.calls.filter(([file]) => file === userTemplate).length,
  };
}

type Run = (ctx: StepContext) => Promise<unknown>;

describe('each pipeline step', () => {
  beforeEach(() => {
    vi.mocked(loadCatalogue).mockClear();
    vi.mocked(loadTemplate).mockClear();
  });

  it.each<[string, Run, Record<string, string>]>([
    ['pre_build (refreshing the caches, then deciding)', preBuild, { PROHIBIT_BUILDING: '1' }],
    ['build (up to the Docker client, after the cache refresh)', buildStep, {}],
    ['push', pushStep, { PROHIBIT_BUILDING: '1' }],
    ['post_push', postPushStep, { PROHIBIT_BUILDING: '1' }],
    ['the build command alone', (ctx) => build(ctx), {}],
  ])('%s reads the catalogue once and the template once', async (_what, run, env) => {
    const { settings, userTemplate } = await project();
    vi.mocked(loadCatalogue).mockClear();
    vi.mocked(loadTemplate).mockClear();
    const ctx: StepContext = { settings, target: 'img', env, emit: () => undefined };
    // Without PROHIBIT_BUILDING the step goes on to build and stops where it asks for Docker.
    const outcome = await run(ctx).then(
      () => 'done',
      (err: unknown) => (err as Error).message,
    );
    expect(outcome).toBe(env.PROHIBIT_BUILDING ? 'done' : NO_DOCKER);
    expect(opens(userTemplate)).toEqual({ catalogue: 1, template: 1 });
  });
});
