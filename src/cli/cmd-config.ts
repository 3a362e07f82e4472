// `config show`: the effective settings and where each came from.
import type { LoadInput } from '../config/load.js';
import { UserError } from '../errors.js';
import type { Output } from './output.js';

/** Print the effective settings (text or JSON) and return the exit code. */
export async function runConfigShow(_input: LoadInput, _out: Output): Promise<number> {
  throw new UserError('config show is being built');
}
