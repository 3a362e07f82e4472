// What the catalogue and template readers share: parsing YAML with line
// numbers, the file name shown in messages, and ${name} expansion.
import path from 'node:path';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { UserError } from './errors.js';

/** A file name as messages show it: relative to the working directory when inside it. */
export function shownName(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** Parse YAML keeping line positions; malformed YAML is a UserError naming file and line. */
export function parseYaml(text: string, shown: string): { doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    throw new UserError(`${shown}:${lines.linePos(first.pos[0]).line}: malformed YAML: ${first.message.split('\n')[0]}`, 'Fix the YAML syntax and run again.');
  }
  return { doc, lines };
}

/** Variables a URL may use as ${name}; values come from configuration. */
export type UrlVars = Readonly<Record<string, string | undefined>>;

/** ${name} substitution (trailing slashes of values dropped); `fail` gets the problem of an unset variable. */
export function expandVars(value: string, vars: UrlVars, fail: (problem: string) => never): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (v === undefined || v === '') fail(`uses \${${name}}, which is not set (known: ${Object.keys(vars).join(', ') || 'none'}; set it in .env or the environment)`);
    return v.replace(/\/+$/, '');
  });
}
