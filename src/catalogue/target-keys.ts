// The keys of a target besides its artifacts, each read into a typed value
// with the line it was declared on. What each value means is checked where it
// is used (the template file exists, the image name parses); here only its shape.
import { isScalar, isSeq, type Node } from 'yaml';
import { isEmpty, type Reader } from './reader.js';
import type { Declared, Target } from './types.js';

/** Every key a target may have; the commands that read them: cache, lock, build (template, tools), push (image, registry, tags). */
export const TARGET_KEYS = ['description', 'artifacts', 'template', 'tools', 'image', 'registry', 'tags'] as const;

/** The keys read here (description and artifacts are read by the loader). */
export type TypedKey = 'template' | 'tools' | 'image' | 'registry' | 'tags';

/** A Debian package name as `tools` may list it. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

// Each reader is declared with its parameter types so that `r.fail` (never returns) narrows the node.
function template(r: Reader, field: string, node: Node): string {
  if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '')
    r.fail(node, field, 'must be a file path', 'For example: template: templates/minimal.yml');
  return node.value;
}

function tools(r: Reader, field: string, node: Node): string[] {
  const hint = 'For example: tools: [mmdebstrap, mtools, e2fsprogs]';
  if (!isSeq(node)) r.fail(node, field, 'must be a list of Debian package names', hint);
  return node.items.map((item) => {
    const n = item as Node;
    if (!isScalar(n) || typeof n.value !== 'string' || !PACKAGE_NAME.test(n.value)) r.fail(n, field, 'must be a list of Debian package names', hint);
    return n.value;
  });
}

function text(hint: string): (r: Reader, field: string, node: Node) => string {
  return (r: Reader, field: string, node: Node): string => {
    if (!isScalar(node) || typeof node.value !== 'string') r.fail(node, field, 'must be a string', hint);
    return node.value;
  };
}

function tags(r: Reader, field: string, node: Node): string[] {
  const hint = 'For example: tags: [latest, "1.0"]';
  // A number is a tag as YAML reads it (`1.0` is "1"), as it always was; quoting keeps it as written.
  const tag = (n: Node): string => {
    if (!isScalar(n) || (typeof n.value !== 'string' && typeof n.value !== 'number')) r.fail(n, field, 'must be a tag or a list of tags', hint);
    return String(n.value);
  };
  if (!isSeq(node)) return [tag(node)];
  if (node.items.length === 0) r.fail(node, field, 'must be a tag or a list of tags', hint);
  return node.items.map((n) => tag(n as Node));
}

const READERS: { [K in TypedKey]: (r: Reader, field: string, node: Node) => NonNullable<Target[K]>['value'] } = {
  template,
  tools,
  image: text('Name the repository, for example: image: team/minimal'),
  registry: text('For example: registry: 127.0.0.1:5000'),
  tags,
};

/**
 * Read one typed key of target `name`, declared at `keyNode`. An empty value
 * (`key:` or `~`) is no value, except for `template`, which must name a file.
 */
export function readTargetKey<K extends TypedKey>(r: Reader, name: string, key: K, keyNode: Node, node: Node | null): Target[K] {
  const field = `targets.${name}.${key}`;
  if (isEmpty(node) && key !== 'template') return undefined;
  const read: (r: Reader, field: string, node: Node) => unknown = READERS[key];
  const declared: Declared<unknown> = { value: read(r, field, node ?? keyNode), origin: r.origin(keyNode) };
  return declared as Target[K];
}
