// A project whose target "img" has an image template over the shipped
// debian13 default, and optionally a lock that matches it with no packages,
// so the cache stage has nothing to fetch and needs no network.
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings, type Settings } from '../../src/config/load.js';
import { requestDigest, writeLock } from '../../src/lock/file.js';
import { LOCK_VERSION, type LockedSet, type LockFile } from '../../src/lock/types.js';
import { type OpenTarget, openTemplateTarget } from '../../src/packages/target.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIRRORS = { G3_MIRROR: 'http://127.0.0.1:9/debian', G3_SECURITY_MIRROR: 'http://127.0.0.1:9/debian-security' };
const USER = [
  'image: {name: img, version: "1"}',
  'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
  'systemConfig:',
  '  packages: [vim]',
  '',
].join('\n');

export interface LockedProject {
  settings: Settings;
  /** The target's own template file. */
  userTemplate: string;
  /** The target, opened as the commands open it. */
  t: OpenTarget;
  /** The lock written (or that would be written) for the target: its request, no packages. */
  lock: LockFile;
}

/** Make the project in `root` (an empty folder); `locked: false` leaves the lock out. */
export async function lockedProject(root: string, opts: { locked?: boolean } = {}): Promise<LockedProject> {
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
  const lock: LockFile = {
    lockVersion: LOCK_VERSION,
    target: 'img',
    providerId: req.providerId,
    arch: req.arch,
    requestDigest: requestDigest(req),
    request: req,
    repositories: [],
    image: none,
    tools: none,
  };
  if (opts.locked !== false) await writeLock(t.lockFile, lock);
  // The graphs go beside the packages; with none to fetch, nothing else makes the folder.
  await mkdir(t.pkgDir, { recursive: true });
  return { settings, userTemplate, t, lock };
}
