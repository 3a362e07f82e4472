// The rule for target names, the same wherever a name enters: the catalogue's
// keys and the command line's <target>. A target name becomes a file name
// (`<target>.lock.json`, the pipeline's state folder) and the default image tag.
import { UserError } from '../errors.js';
import { quoted, unusualChar } from '../layout/names.js';

/** The longest target name: leaves room for `<target>.lock.json` and its hidden temporary names within 255 bytes. */
export const TARGET_NAME_MAX = 64;
const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Why `name` is not a valid target name, or undefined when it is. */
export function targetNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > TARGET_NAME_MAX) return `is ${name.length} characters long; a target name has at most ${TARGET_NAME_MAX}`;
  const odd = unusualChar(name);
  if (odd) return `contains ${odd}; a target name has letters, digits, ".", "_" and "-" only`;
  if (!TARGET_NAME.test(name)) return 'is not a valid target name (letters, digits, ".", "_", "-"; starting with a letter or digit)';
  return undefined;
}

/** A target name as messages show it: escaped, and cut short when it is very long. */
export function shownTarget(name: string): string {
  return quoted(name.length > TARGET_NAME_MAX + 16 ? `${name.slice(0, TARGET_NAME_MAX)}...` : name);
}

/** Throw a UserError (exit 2) when `name`, given on the command line, is not a valid target name. */
export function checkTargetName(name: string): string {
  const problem = targetNameProblem(name);
  if (problem) throw new UserError(`target ${shownTarget(name)} ${problem}`, 'Give the name of a target in the catalogue; `list` shows them.');
  return name;
}
