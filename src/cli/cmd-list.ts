// `list`: the targets with their template, provider id and image tags.
import type { Settings } from '../config/load.js';
import { UserError } from '../errors.js';
import type { Emit } from '../log/events.js';
import type { Output } from './output.js';

/** Print the targets (text or JSON) and return the exit code. */
export async function runList(_settings: Settings, _out: Output, _emit: Emit): Promise<number> {
  throw new UserError('list is being built');
}
