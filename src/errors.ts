// The three kinds of failure the toolkit knows. Only the entry points
// (builder.ts, hooks/) turn them into exit codes.

/** Exit codes shared by every command. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

/** Bad input from the user: a message and what to do next. Exit 2. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A step that failed for reasons outside our code (network, a tool, a disk). Exit 1. */
export class StepError extends Error {
  override name = 'StepError';
  constructor(
    message: string,
    readonly details: { command?: string[]; exitCode?: number; stderr?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
  }
}

/** A bug: the stack is worth showing. */
export class InternalError extends Error {
  override name = 'InternalError';
}

/** The exit code an error maps to. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UserError) return ExitCode.usage;
  if (err instanceof StepError) return ExitCode.failure;
  return ExitCode.failure;
}

/** A short, human message for any thrown value. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
