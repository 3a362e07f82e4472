// From a merged template (and its target) to what the packages stage asks for:
// the repositories to read and the package names to resolve.
import type { Target } from '../catalogue/types.js';
import { UserError } from '../errors.js';
import type { LockRequest } from '../lock/types.js';
import { repositoryIds, resolveKeyring } from '../provider/debian.js';
import { debianArch } from '../template/provider.js';
import type { RepoTemplate } from '../template/types.js';
import { declaringDir } from '../template/local-files.js';
import type { RepoSpec } from '../repo/deb/types.js';
import { baselinePath } from '../baseline/source.js';
import { overlayOf } from '../template/overlay/spec.js';
import type { ImageTemplate } from '../template/types.js';

/** What the packages stage needs from a template. */
export interface PackagePlan {
  providerId: string;
  arch: string;
  repos: Array<RepoSpec & { priority: number; allowPackages?: string[] }>;
  request: LockRequest;
}

/** The minimal template shape the plan reads (the template module owns the full type). */
export interface PlanTemplate {
  target?: { os?: string; dist?: string; arch?: string; imageType?: string };
  baseline?: ImageTemplate['baseline'];
  overlayPolicy?: ImageTemplate['overlayPolicy'];
  packageRepositories?: RepoTemplate[];
  systemConfig?: { packages?: string[]; kernel?: { packages?: string[] } };
}

/** The composer image's tools a target lists (`tools: [...]`, checked by the catalogue loader), each once. */
export function targetTools(target: Target): string[] {
  return [...new Set(target.tools?.value ?? [])];
}

/** Build the plan: repository specs with keyrings, and the resolution request. */
export async function makePlan(
  t: PlanTemplate,
  opts: { providerId: string; templateFile: string; projectRoot: string; tools: string[]; chain?: readonly string[] },
): Promise<PackagePlan> {
  // Validation already refused an unknown arch; this guards direct library use.
  const arch = debianArch(t.target?.arch);
  if (!arch) throw new UserError(`${opts.templateFile}: target.arch ${t.target?.arch ?? '(missing)'} is not supported`);
  const entries = t.packageRepositories ?? [];
  if (entries.length === 0) throw new UserError(`${opts.templateFile}: no packageRepositories after merging with the default template`);
  const ids = repositoryIds(entries);
  const repos = await Promise.all(
    entries.map(async (e, i) => ({
      id: ids[i] as string,
      url: e.url.replace(/\/+$/, ''),
      codename: e.codename,
      components: e.component,
      archs: e.arch && e.arch.length > 0 ? e.arch : [arch],
      keyrings:
        e.trusted && !e.pkey
          ? []
          : [await resolveKeyring(e.pkey, declaringDir(e, opts.chain ?? [], opts.templateFile), opts.projectRoot, `packageRepositories[${i}] (${e.codename})`)],
      trusted: e.trusted,
      priority: e.priority,
      allowPackages: e.allowPackages,
    })),
  );
  const sys = t.systemConfig ?? {};
  const packages = [...new Set([...(sys.packages ?? []), ...(sys.kernel?.packages ?? [])])];
  const request: LockRequest = {
    providerId: opts.providerId,
    arch,
    repositories: repos.map((r) => ({
      id: r.id,
      codename: r.codename,
      components: r.components,
      priority: r.priority,
      allowPackages: r.allowPackages,
      trusted: r.trusted,
    })),
    packages,
    tools: opts.tools,
  };
  const overlay = overlayOf(t as ImageTemplate);
  if (overlay) {
    const declared = t.baseline?.source ?? {};
    request.baseline = {
      // A path is read from the folder of the template that names it, when relative.
      source:
        'path' in overlay.source ? { path: baselinePath(overlay.source.path, declaringDir(declared, opts.chain ?? [], opts.templateFile)) } : overlay.source,
      format: overlay.format,
      packageOperation: overlay.packageOperation,
      conflictPolicy: overlay.conflictPolicy,
    };
  }
  return { providerId: opts.providerId, arch, repos, request };
}
