// Turns a parsed YAML document into plain template data, checking each value
// against the schema and recording where it was written (origin.ts).
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node, Scalar } from 'yaml';
import { UserError } from '../errors.js';
import { suggest } from '../suggest.js';
import { escapeInline } from '../text/untrusted.js';
import { expandVars, lineOf } from '../yaml.js';
import { childPath, type Loc, setKeyOrigin, setOrigin } from './origin.js';
import type { Field, Shape, Unimplemented } from './schema.js';

/** Variables a repository URL may use as ${name}. */
export type TemplateVars = Readonly<Record<string, string | undefined>>;

const EXPECTED: Record<string, string> = {
  string: 'must be a string',
  size: 'must be a size such as 4GiB, 512MiB or a number of bytes',
  bool: 'must be true or false',
  int: 'must be a whole number',
  strings: 'must be a list of strings',
  words: 'must be a string or a list of strings',
  url: 'must be a string',
  free: 'must be a mapping',
};

export class TemplateReader {
  readonly warnings: string[] = [];
  /** Unknown keys and unimplemented keys that would change the image, all of them; the caller fails on any. */
  readonly errors: string[] = [];
  /** Line of every field path that has a value. */
  readonly lines = new Map<string, number>();

  constructor(
    /** Path recorded in origins (for resolving relative files later). */
    readonly file: string,
    /** Name shown in messages. */
    readonly shown: string,
    readonly text: string,
    readonly counter: LineCounter,
    readonly vars: TemplateVars,
    readonly doc: Document,
  ) {}

  line(node: Node | null | undefined): number {
    return lineOf(this.counter, node);
  }

  fail(node: Node | null | undefined, path: string, problem: string): never {
    throw new UserError(`${this.shown}:${this.line(node)}: ${path} ${problem}`, 'Fix the image template and run again.');
  }

  private loc(node: Node, path: string): Loc {
    return { file: this.file, line: this.line(node), path };
  }

  /** A mapping read against `shape`; unknown keys become errors, unimplemented ones errors or warnings. */
  object(at: Node, path: string, shape: Shape): Record<string, unknown> {
    const node = this.deref(at);
    if (!isMap(node)) this.fail(node, path || 'document', 'must be a mapping');
    const out: Record<string, unknown> = {};
    setOrigin(out, this.loc(node, path));
    for (const pair of node.items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '?';
      const field = Object.hasOwn(shape, key) ? shape[key] : undefined;
      const p = childPath(path, escapeInline(key));
      if (field === undefined) {
        const near = suggest(key, Object.keys(shape));
        this.errors.push(
          `${this.shown}:${this.line(keyNode)}: ${p} is not a template key (${near ? `did you mean "${near}"?` : `known here: ${Object.keys(shape).join(', ')}`})`,
        );
        continue;
      }
      const valueNode = pair.value as Node | null;
      if (typeof field === 'object' && 'unimplemented' in field) {
        this.unimplemented(keyNode, valueNode, p, field.unimplemented);
        continue;
      }
      // `key:` with nothing after it means "not set", as in most YAML tools.
      if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) continue;
      out[key] = this.value(valueNode, p, field);
      setKeyOrigin(out, key, this.loc(valueNode, p));
      this.lines.set(p, this.line(valueNode));
    }
    return out;
  }

  /** A key of OS Image Composer's format that g3-composer does not implement: an error when it would change the image. */
  private unimplemented(keyNode: Node, valueNode: Node | null, path: string, field: Unimplemented): void {
    const value = valueNode === null ? null : ((this.deref(valueNode) as { toJSON?: () => unknown }).toJSON?.() ?? null);
    const at = `${this.shown}:${this.line(keyNode)}: ${path}`;
    const changes = field.changes(value);
    if (changes) this.errors.push(`${at} is part of OS Image Composer's format but not implemented by g3-composer, and ${changes}; remove it`);
    else this.warnings.push(`${at} ${field.ignored}; ignored (not implemented by g3-composer)`);
  }

  /** What an alias (`*name`) points at; other nodes as they are. */
  private deref(node: Node): Node {
    return isAlias(node) ? ((node.resolve(this.doc) as Node | undefined) ?? node) : node;
  }

  private value(at: Node, path: string, field: Field): unknown {
    const node = this.deref(at);
    if (typeof field === 'object') {
      if ('object' in field) return this.object(node, path, field.object);
      if ('unimplemented' in field) return undefined; // object() never reads these
      if (!isSeq(node)) this.fail(node, path, 'must be a list');
      const list = node.items.map((item, i) => this.object(item as Node, childPath(path, i), field.list));
      return this.tracked(list, node, path);
    }
    switch (field) {
      case 'string':
        return this.string(node, path, EXPECTED.string as string);
      case 'size':
        return this.string(node, path, EXPECTED.size as string);
      case 'url':
        return this.expand(node, path, this.string(node, path, EXPECTED.url as string));
      case 'bool':
      case 'int': {
        const v = isScalar(node) ? node.value : undefined;
        const ok = field === 'bool' ? typeof v === 'boolean' : typeof v === 'number' && Number.isSafeInteger(v);
        if (!ok) this.fail(node, path, EXPECTED[field] as string);
        return v;
      }
      case 'strings':
      case 'words': {
        if (field === 'words' && isScalar(node)) {
          return this.string(node, path, EXPECTED.words as string)
            .split(/[\s,]+/)
            .filter((w) => w !== '');
        }
        if (!isSeq(node)) this.fail(node, path, EXPECTED[field] as string);
        const list = node.items.map((item, i) => this.string(this.deref(item as Node), childPath(path, i), 'must be a string'));
        return this.tracked(list, node, path);
      }
      case 'free':
        if (!isMap(node)) this.fail(node, path, EXPECTED.free as string);
        return node.toJSON();
    }
  }

  /** A list with the place of each item recorded. */
  private tracked<T extends unknown[]>(list: T, node: Node, path: string): T {
    setOrigin(list, this.loc(node, path));
    if (!isSeq(node)) return list;
    node.items.forEach((item, i) => {
      const p = childPath(path, i);
      setKeyOrigin(list, i, this.loc(item as Node, p));
      this.lines.set(p, this.line(item as Node));
    });
    return list;
  }

  /** A scalar as text; plain numbers keep their written form (`6.10`, not 6.1). */
  private string(node: Node, path: string, problem: string): string {
    if (!isScalar(node)) this.fail(node, path, problem);
    if (typeof node.value === 'string') return node.value;
    if (typeof node.value === 'number' && node.type === Scalar.PLAIN && node.range) {
      return this.text.slice(node.range[0], node.range[1]);
    }
    if (typeof node.value === 'number') return String(node.value);
    return this.fail(node, path, problem);
  }

  /** ${name} substitution; an unset variable is an error naming it. */
  private expand(node: Node, path: string, value: string): string {
    return expandVars(value, this.vars, (problem) => this.fail(node, path, problem));
  }
}
