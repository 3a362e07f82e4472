// An ISO template's systemConfig.initramfs (OS Image Composer's ISO templates
// use it): the template, imageType img, of the system the medium boots. It is
// built as a target of its own, derived from the ISO's: `<target>.initramfs`,
// with its own lock (`<target>.initramfs.lock.json` beside the catalogue), the
// same provider (package cache, snapshots, workspace) and the ISO target's
// tools plus cpio. `lock`, `cache` and `build` of the ISO target do the same to
// it first; the ISO then boots its initramfs and kernel.
import path from 'node:path';
import type { Catalogue, Target } from '../catalogue/types.js';
import { targetNameProblem } from '../catalogue/target-name.js';
import type { Settings } from '../config/load.js';
import { UserError } from '../errors.js';
import type { Emit } from '../log/events.js';
import { additionalFileSource } from '../template/local-files.js';
import { locate } from '../template/origin.js';
import { escapeInline } from '../text/untrusted.js';
import { type OpenTarget, openTemplateTarget } from './target.js';

/** The derived target's name: the ISO target's, then this. */
export const INITRAMFS_SUFFIX = '.initramfs';
/** Each derived target and the ISO target it was made for (a catalogue opened again by a later step derives it again). */
const DERIVED = new WeakMap<Target, string>();
/** The initrd output packs the system with cpio in the build container. */
const INITRAMFS_TOOLS = ['cpio'];

/** What is needed of the ISO target. */
export type IsoTarget = Pick<OpenTarget, 'target' | 'template' | 'templateFile'>;

/** The template path an ISO template names in systemConfig.initramfs.template, or undefined. */
export function initramfsTemplateOf(t: IsoTarget): string | undefined {
  if (t.template.target?.imageType !== 'iso') return undefined;
  return t.template.systemConfig?.initramfs?.template;
}

/**
 * The derived target of an ISO target whose template has systemConfig.initramfs
 * (added to `cat`), opened and checked: imageType img, and the ISO's os, dist
 * and arch. Undefined when the template has none.
 */
export async function openInitramfsTarget(settings: Settings, cat: Catalogue, iso: IsoTarget, emit: Emit): Promise<OpenTarget | undefined> {
  const wanted = initramfsTemplateOf(iso);
  if (wanted === undefined) return undefined;
  const initramfs = iso.template.systemConfig?.initramfs ?? {};
  const declared = locate(initramfs, 'template');
  const where = declared ? `${declared.file}:${declared.line}: systemConfig.initramfs.template` : 'systemConfig.initramfs.template';
  // The same confinement as additionalFiles: a file inside the folder of the template that names it, links resolved.
  const dir = path.dirname(locate(initramfs)?.file ?? iso.templateFile);
  const file = await additionalFileSource({ local: wanted }, dir, where);
  const name = `${iso.target.name}${INITRAMFS_SUFFIX}`;
  const problem = targetNameProblem(name);
  if (problem) throw new UserError(`target ${iso.target.name}: its initramfs target ${escapeInline(name)} ${problem}`, 'Give the ISO target a shorter name.');
  const taken = cat.targets.get(name);
  if (taken && DERIVED.get(taken) !== iso.target.name)
    throw new UserError(
      `target ${escapeInline(name)} in ${cat.file} is reserved: it is the initramfs of target ${iso.target.name} (systemConfig.initramfs)`,
      'Rename that target.',
    );
  const origin = iso.target.template?.origin ?? { file: cat.file, line: 1 };
  const derived: Target = {
    name,
    description: `the initramfs of ${iso.target.name} (${wanted})`,
    artifacts: [],
    template: { value: path.relative(path.dirname(path.resolve(cat.file)), file.real), origin },
    tools: { value: [...new Set([...(iso.target.tools?.value ?? []), ...INITRAMFS_TOOLS])], origin },
  };
  cat.targets.set(name, derived);
  DERIVED.set(derived, iso.target.name);
  const opened = await openTemplateTarget(settings, name, emit, cat);
  const got = opened.template.target ?? {};
  const want = iso.template.target ?? {};
  if (got.imageType !== 'img')
    throw new UserError(
      `${where}: ${escapeInline(wanted)} has imageType ${escapeInline(got.imageType ?? '(none)')}; the system an ISO boots is an initrd image (imageType img)`,
      'Name a template with target.imageType: img.',
    );
  // Each build owns its imagebuild/<systemConfig.name>/ folder; one name would make the ISO's build clear the other's outputs.
  if ((opened.template.systemConfig?.name ?? '') === (iso.template.systemConfig?.name ?? ''))
    throw new UserError(
      `${where}: ${escapeInline(wanted)} has the ISO template's systemConfig.name (${escapeInline(iso.template.systemConfig?.name ?? '(none)')}); both builds would use one output folder`,
      'Give the two templates different systemConfig.name values.',
    );
  for (const k of ['os', 'dist', 'arch'] as const)
    if (got[k] !== want[k])
      throw new UserError(
        `${where}: ${escapeInline(wanted)} is for ${k} ${escapeInline(got[k] ?? '(none)')}, the ISO for ${escapeInline(want[k] ?? '(none)')}`,
        "The initramfs template must have the ISO template's target os, dist and arch.",
      );
  return opened;
}
