// `list`: the targets of the catalogue with their template, provider id and
// image tags. A target whose template does not load is listed with its error,
// so one broken target does not hide the others.
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Target } from '../../catalogue/types.js';
import { openCatalogue } from '../../catalogue/open.js';
import type { Settings } from '../../config/load.js';
import { ExitCode } from '../../errors.js';
import { isNotFound } from '../../fs/safe.js';
import { lockPathFor } from '../../lock/file.js';
import type { Emit } from '../../log/events.js';
import { imageName } from '../../pipeline/image-name.js';
import { loadTargetTemplate } from '../../template/target.js';
import { escapeInline } from '../../text/untrusted.js';
import { defineCommand } from '../command.js';

export interface ListedTarget {
  name: string;
  description?: string;
  /** The template file as the catalogue names it; undefined for artifact-only targets. */
  template?: string;
  providerId?: string;
  image?: { registry?: string; repository: string; tags: string[]; refs: string[] };
  artifacts: number;
  locked: boolean;
  /** Why the template or image name could not be worked out. */
  error?: string;
}

async function describeTarget(settings: Settings, catalogueFile: string, t: Target): Promise<ListedTarget> {
  // Only a missing lock means "not locked"; a lock we cannot read is an error to report.
  const locked = await access(lockPathFor(catalogueFile, t.name)).then(
    () => true,
    (err: unknown) => {
      if (isNotFound(err)) return false;
      throw err;
    },
  );
  const base: ListedTarget = { name: t.name, description: t.description, artifacts: t.artifacts.length, locked };
  if (t.template === undefined) return base;
  base.template = t.template.value;
  try {
    const tt = await loadTargetTemplate({
      catalogueFile,
      target: t,
      projectRoot: settings.projectRoot,
      vars: { mirror: settings.mirror, security_mirror: settings.securityMirror, work_dir: settings.workDir },
    });
    const name = imageName({ target: t, template: tt.merged, env: {}, registry: settings.registry });
    return { ...base, providerId: tt.providerId, image: { registry: name.registry, repository: name.repository, tags: name.tags, refs: name.refs } };
  } catch (err) {
    return { ...base, error: (err as Error).message.split('\n')[0] };
  }
}

/** The catalogue's targets, each described (or with why it could not be). */
async function listTargets(settings: Settings, emit: Emit): Promise<{ catalogue: string; targets: ListedTarget[] }> {
  const cat = await openCatalogue(settings, emit);
  const targets: ListedTarget[] = [];
  for (const t of cat.targets.values()) targets.push(await describeTarget(settings, cat.file, t));
  return { catalogue: cat.file, targets };
}

/** `list`: exit 1 when a target's template does not load. */
export const listCommand = defineCommand({
  name: 'list',
  summary: 'list the targets with their template, provider id and image tags',
  targetless: true,
  usage: 'list [--json]',
  description: `Reads the target catalogue (docker/targets.yml, or --targets / G3_TARGETS) and
prints each target with its template, provider id and image tags.`,
  examples: (prog) => [`${prog} list`, `${prog} list --targets ci/targets.yml`, `${prog} list --json`],
  run: ({ settings, emit }) => listTargets(settings, emit),
  render: ({ catalogue, targets }, { out }) => {
    const broken = targets.filter((t) => t.error).length;
    if (out.mode === 'json') out.result(JSON.stringify({ command: 'list', catalogue, targets }, null, 2));
    else {
      // Cells are escaped one by one (newlines too), so a name cannot add a row or shift the columns.
      const rows = [
        ['TARGET', 'TEMPLATE', 'PROVIDER', 'IMAGE'],
        ...targets.map((t) =>
          [
            t.name,
            t.template ?? '-',
            t.providerId ?? (t.error ? 'error' : '-'),
            t.image ? t.image.refs.join(' ') : t.error ? t.error : `${t.artifacts} artifact(s)`,
          ].map(escapeInline),
        ),
      ];
      const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
      for (const r of rows)
        out.result(
          r
            .map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c))
            .join('  ')
            .trimEnd(),
        );
      out.note(
        `${targets.length} target(s) in ${path.relative(process.cwd(), catalogue) || catalogue}${broken ? `; ${broken} with a template that does not load` : ''}`,
      );
    }
    return broken ? ExitCode.failure : ExitCode.ok;
  },
});
