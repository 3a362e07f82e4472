// `cache status|verify|prune|clean`: rendering of the cache administration library.
import type { Settings } from '../config/load.js';
import { UserError } from '../errors.js';
import type { Emit } from '../log/events.js';
import type { Output } from './output.js';

export type CacheAdminCommand = 'status' | 'verify' | 'prune' | 'clean';

export interface CacheAdminInput {
  settings: Settings;
  flags: Record<string, string | boolean>;
  emit: Emit;
  out: Output;
}

/** Run one cache administration command and return its exit code. */
export async function runCacheAdmin(command: CacheAdminCommand, _input: CacheAdminInput): Promise<number> {
  throw new UserError(`cache ${command} is being built`);
}
