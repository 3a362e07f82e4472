// What the catalogue and template readers share: parsing YAML with line
// numbers, the file name shown in messages, and ${name} expansion.
import path from 'node:path';
import { type Document, type ErrorCode, LineCounter, parseDocument, type YAMLError } from 'yaml';
import { UserError } from './errors.js';
import { escapeInline } from './text/untrusted.js';

/** A file name as messages show it: relative to the working directory when inside it. */
export function shownName(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

// The yaml library's messages for these quote the offending text (a tag, an
// escape, a character, a directive, an alias name): ours say what is wrong only.
const QUOTING: Partial<Record<ErrorCode, string>> = {
  TAG_RESOLVE_FAILED: 'a tag that is not known',
  BAD_COLLECTION_TYPE: 'a tag that does not fit its value',
  BAD_DQ_ESCAPE: 'an invalid escape sequence in a double-quoted string',
  BAD_SCALAR_START: 'a plain value that starts with a reserved character (quote it)',
  BAD_DIRECTIVE: 'an invalid directive',
  BAD_PROP_ORDER: 'an anchor or tag before an indicator',
  BAD_ALIAS: 'an alias whose anchor is not defined before it',
};

/**
 * What is wrong, in the yaml library's words but without any of the file's text:
 * its messages end with the offending source after a colon ("...in YAML stream:
 * \"...\"", "...extra characters: ..."), and a few quote it inline (see QUOTING).
 * A file that is not YAML at all (a password file named by mistake) is never echoed.
 */
export function yamlProblem(err: Pick<YAMLError, 'code' | 'message'>): string {
  const fixed = QUOTING[err.code];
  if (fixed) return fixed;
  const first = err.message.split('\n')[0] ?? '';
  // A colon right after a word starts the quoted source; " : " is the indicator itself ("Missing space after : in").
  const cut = first.search(/(?<=\S):(\s|$)/);
  return escapeInline((cut < 0 ? first : first.slice(0, cut)).slice(0, 120));
}

/** Parse YAML keeping line positions; malformed YAML is a UserError naming file and line, never quoting the file. */
export function parseYaml(text: string, shown: string): { doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    throw new UserError(`${shown}:${lines.linePos(first.pos[0]).line}: malformed YAML: ${yamlProblem(first)}`, 'Fix the YAML syntax and run again.');
  }
  return { doc, lines };
}

/** Variables a URL may use as ${name}; values come from configuration. */
/** The line a YAML node starts on (1 when it has no position, as for a missing key). */
export function lineOf(lines: LineCounter, node: { range?: readonly number[] | null } | null | undefined): number {
  const offset = node?.range?.[0];
  return offset === undefined ? 1 : lines.linePos(offset).line;
}

export type UrlVars = Readonly<Record<string, string | undefined>>;

/** ${name} substitution (trailing slashes of values dropped); `fail` gets the problem of an unset variable. */
export function expandVars(value: string, vars: UrlVars, fail: (problem: string) => never): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (v === undefined || v === '')
      fail(`uses \${${name}}, which is not set (known: ${Object.keys(vars).join(', ') || 'none'}; set it in .env or the environment)`);
    return v.replace(/\/+$/, '');
  });
}
