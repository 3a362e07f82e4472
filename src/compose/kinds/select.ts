// The output of each supported target.imageType.
import { UserError } from '../../errors.js';
import { IMAGE_TYPES } from '../../template/provider.js';
import type { ImageTemplate } from '../../template/types.js';
import { initrdKind } from './initrd.js';
import { isoKind } from './iso.js';
import { rawKind } from './raw.js';
import type { OutputKind } from './types.js';

const KINDS: Readonly<Record<string, (template: ImageTemplate, seed: string) => OutputKind>> = {
  raw: rawKind,
  img: initrdKind,
  iso: isoKind,
};

/** The output kind of the template's image type; exit 2 naming the supported ones otherwise. */
export function outputKind(template: ImageTemplate, seed: string): OutputKind {
  const type = template.target?.imageType ?? 'raw';
  const make = IMAGE_TYPES.includes(type) ? KINDS[type] : undefined;
  if (!make) throw new UserError(`target.imageType "${type}" is not supported (supported: ${IMAGE_TYPES.join(', ')})`);
  return make(template, seed);
}
