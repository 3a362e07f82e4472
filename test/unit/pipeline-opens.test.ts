// Each pipeline step reads the catalogue once and the target's template once,
// and hands what it opened to the commands it calls (cache, build). The
// readers are wrapped in spies that count; Docker is stubbed out so `build`
// stops right after it has refreshed the caches and opened everything.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadCatalogue } from '../../src/catalogue/load.js';
import { build } from '../../src/commands/build.js';
import { postPushStep, pushStep } from '../../src/pipeline/publish.js';
import { buildStep, preBuild, type StepContext } from '../../src/pipeline/steps.js';
import { loadTemplateChain } from '../../src/template/load.js';
import { lockedProject } from './locked-project.js';
import { useTempDirs } from './tmpdir.js';

vi.mock('../../src/catalogue/load.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/catalogue/load.js')>();
  return { ...real, loadCatalogue: vi.fn(real.loadCatalogue) };
});
vi.mock('../../src/template/load.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/template/load.js')>();
  // The target's template is read through its extends chain.
  return { ...real, loadTemplateChain: vi.fn(real.loadTemplateChain) };
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

const tempDir = useTempDirs('g3-opens-');

/** What a run opened: catalogue loads, and loads of the target's own template file. */
function opens(userTemplate: string): { catalogue: number; template: number } {
  return {
    catalogue: vi.mocked(loadCatalogue).mock.calls.length,
    template: vi.mocked(loadTemplateChain).mock.calls.filter(([file]) => file === userTemplate).length,
  };
}

type Run = (ctx: StepContext) => Promise<unknown>;

describe('each pipeline step', () => {
  beforeEach(() => {
    vi.mocked(loadCatalogue).mockClear();
    vi.mocked(loadTemplateChain).mockClear();
  });

  it.each<[string, Run, Record<string, string>]>([
    ['pre_build (refreshing the caches, then deciding)', preBuild, { PROHIBIT_BUILDING: '1' }],
    ['build (up to the Docker client, after the cache refresh)', buildStep, {}],
    ['push', pushStep, { PROHIBIT_BUILDING: '1' }],
    ['post_push', postPushStep, { PROHIBIT_BUILDING: '1' }],
    ['the build command alone', (ctx) => build(ctx), {}],
  ])('%s reads the catalogue once and the template once', async (_what, run, env) => {
    const { settings, userTemplate } = await lockedProject(await tempDir());
    vi.mocked(loadCatalogue).mockClear();
    vi.mocked(loadTemplateChain).mockClear();
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
