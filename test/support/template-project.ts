// A throw-away project whose target builds from an image template, against a
// signed Debian repository fixture served on 127.0.0.1.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { disposeKey, type FixturePackage, makeSigningKey, type SigningKey, type SuiteSpec, writeRepo, type RepoFixture } from './debrepo.js';
import { type Origin, startOrigin } from './origin.js';

/** Packages the default debian13 template asks for, as tiny stand-ins. */
export const DEFAULT_TEMPLATE_PACKAGES = ['systemd-sysv', 'udev', 'dbus', 'login', 'passwd', 'iproute2', 'systemd-boot', 'linux-image-amd64'];

/** A small base system: Essential and Priority: required packages. */
export const BASE: FixturePackage[] = [
  { name: 'libc6', version: '2.41-12', priority: 'required', multiArch: 'same' },
  { name: 'base-files', version: '13.8', essential: true, priority: 'required' },
  { name: 'dash', version: '0.5.12-12', essential: true, priority: 'required', preDepends: 'libc6 (>= 2.34)' },
  { name: 'mawk', version: '1.3.4.20250131-1', priority: 'required', provides: 'awk', depends: 'libc6' },
];

export interface TemplateProject {
  dir: string;
  catalogue: string;
  lockFile: string;
  cacheDir: string;
  /** The workspace (work_dir, with the run log): never the project's ./workspace. */
  workDir: string;
  shared: string;
  key: SigningKey;
  repoRoot: string;
  fixture: RepoFixture;
  origin: Origin;
  env: Record<string, string>;
  /** Write the user template with these extra packages and repository keys. */
  writeTemplate(packages: string[], extra?: string): Promise<void>;
  /** Rewrite the repository (suites of trixie, -updates, -security) with these packages in trixie main. */
  writeRepo(packages: FixturePackage[], over?: Partial<SuiteSpec>, more?: SuiteSpec[]): Promise<RepoFixture>;
  cleanup(): Promise<void>;
}

/** A project with a `img` target built from templates/img.yml over the debian13 default. */
export async function makeTemplateProject(opts: { tools?: string[] } = {}): Promise<TemplateProject> {
  const dir = await mkdtemp(path.join(tmpdir(), 'g3-tpl-'));
  // Beside the template: a template's keys must lie in its folder (or the toolkit's keyrings).
  const key = await makeSigningKey(path.join(dir, 'templates', 'keys'));
  const repoRoot = path.join(dir, 'repo');
  const origin = await startOrigin({ dir: repoRoot });
  const catalogue = path.join(dir, 'targets.yml');
  await mkdir(path.join(dir, 'templates'), { recursive: true });
  await writeFile(catalogue, `targets:\n  img:\n    template: templates/img.yml\n${opts.tools ? `    tools: [${opts.tools.join(', ')}]\n` : ''}`);
  const shared = path.join(dir, 'shared');
  await mkdir(shared);
  const p: TemplateProject = {
    dir,
    catalogue,
    lockFile: path.join(dir, 'img.lock.json'),
    cacheDir: path.join(dir, 'cache'),
    workDir: path.join(dir, 'workspace'),
    shared,
    key,
    repoRoot,
    fixture: undefined as unknown as RepoFixture,
    origin,
    env: {
      G3_TARGETS: catalogue,
      G3_LOCAL_CACHE: path.join(dir, 'g3-cache'),
      G3_CACHE_DIR: path.join(dir, 'cache'),
      G3_WORK_DIR: path.join(dir, 'workspace'),
      SHARED_G3_CACHE_PATH: shared,
      G3_MIRROR: `${origin.url}/debian`,
      G3_SECURITY_MIRROR: `${origin.url}/debian-security`,
      G3_RETRY_BACKOFF_MS: '20',
      G3_RETRIES: '1',
      G3_HTTP_TIMEOUT: '5',
    },
    async writeTemplate(packages, extra = '') {
      const repo = (codename: string, mirror: string) => `  - codename: ${codename}\n    url: \${${mirror}}\n    pkey: ${key.keyring}\n    component: main\n`;
      await writeFile(
        path.join(dir, 'templates', 'img.yml'),
        `image: {name: img, version: "1"}\ntarget: {os: debian, dist: debian13, arch: x86_64, imageType: raw}\npackageRepositories:\n${repo('trixie', 'mirror')}${repo('trixie-updates', 'mirror')}${repo('trixie-security', 'security_mirror')}${extra}systemConfig:\n  name: img\n  packages: [${packages.join(', ')}]\n`,
      );
    },
    async writeRepo(packages, over = {}, more = []) {
      await rm(repoRoot, { recursive: true, force: true });
      const stand = DEFAULT_TEMPLATE_PACKAGES.map((name) => ({ name, version: '1.0-1', depends: 'libc6' }));
      const main = await writeRepo(path.join(repoRoot, 'debian'), {
        key,
        suites: [
          { codename: 'trixie', components: { main: [...BASE, ...stand, ...packages] }, byHash: true, ...over },
          { codename: 'trixie-updates', components: { main: [] } },
          ...more,
        ],
      });
      await writeRepo(path.join(repoRoot, 'debian-security'), { key, suites: [{ codename: 'trixie-security', components: { main: [] } }] });
      p.fixture = main;
      return main;
    },
    async cleanup() {
      await origin.close();
      await disposeKey(key);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return p;
}
