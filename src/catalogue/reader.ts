// The catalogue reader's helpers: the line of a YAML node, failing with file,
// line and field path, refusing unknown keys, ${name} expansion.
import { isScalar, type LineCounter, type Node, type YAMLMap } from 'yaml';
import { UserError } from '../errors.js';
import { suggest } from '../suggest.js';
import { escapeInline } from '../text/untrusted.js';
import { expandVars, lineOf, type UrlVars } from '../yaml.js';
import type { Origin } from './types.js';

const FIX = 'Fix the target catalogue and run again.';

/** One catalogue being read: its shown name, line positions and URL variables. */
export class Reader {
  readonly warnings: string[] = [];
  constructor(
    readonly file: string,
    readonly lines: LineCounter,
    readonly vars: UrlVars,
  ) {}

  /** The line `node` starts on (1 when it has no position). */
  line(node: Node | null | undefined): number {
    return lineOf(this.lines, node);
  }

  /** Where `node` was declared, as types.ts records it. */
  origin(node: Node | null | undefined): Origin {
    return { file: this.file, line: this.line(node) };
  }

  /** Throw a UserError `file:line: field problem`. */
  fail(node: Node | null | undefined, field: string, problem: string, hint = FIX): never {
    throw new UserError(`${this.file}:${this.line(node)}: ${field} ${problem}`, hint);
  }

  /** Fail on the first key of `node` that is not one of `known`, naming the nearest known key. */
  knownKeys(node: YAMLMap, field: string, known: readonly string[], what: string): void {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (known.includes(key)) continue;
      const near = suggest(key, known);
      const shown = escapeInline(key);
      const hint = near ? `did you mean "${near}"?` : `known keys: ${known.join(', ')}`;
      this.fail(pair.key as Node, field ? `${field}.${shown}` : shown, `is not ${what} key (${hint})`);
    }
  }

  /** ${name} substitution; an unknown or unset variable is an error. */
  expand(node: Node, field: string, value: string): string {
    return expandVars(value, this.vars, (problem) => this.fail(node, field, problem));
  }
}

/** Whether a key's value is absent: no value (`key:`) or `~`/`null`. */
export function isEmpty(node: Node | null | undefined): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}
