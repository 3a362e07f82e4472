// Resolution failures are the user's to fix (a template asks for something the
// repositories cannot give), so they are UserErrors carrying the dependency chain.
import { UserError } from '../errors.js';

/** A request that cannot be resolved; `chain` leads from a requested or base package to the failing relation. */
export class ResolveError extends UserError {
  override name = 'ResolveError';
  constructor(
    message: string,
    readonly chain: string[] = [],
    hint?: string,
  ) {
    super(message, hint);
  }
}
