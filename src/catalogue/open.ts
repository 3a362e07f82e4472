// The target catalogue as every command opens it: loaded with the mirrors from
// the settings, its warnings reported as events.
import type { Settings } from '../config/load.js';
import type { Emit } from '../log/events.js';
import { loadCatalogue } from './load.js';
import type { Catalogue } from './types.js';

/** Load the catalogue the settings name, emitting its warnings. */
export async function openCatalogue(settings: Settings, emit: Emit): Promise<Catalogue> {
  const cat = await loadCatalogue(settings.targets, { mirror: settings.mirror, security_mirror: settings.securityMirror });
  for (const w of cat.warnings) emit({ type: 'warning', message: w });
  return cat;
}
