// Collects validation errors and warnings, each naming the file, line and
// field path it is about when the template records them.
import { shownName } from '../yaml.js';
import { locate } from './origin.js';

export class Problems {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  /** `where` names the template when a value has no recorded origin. */
  constructor(readonly where: string) {}

  /** An error about `obj[key]` (or `obj` itself); `path` is its path in the merged template. */
  error(obj: object | undefined, key: string | number | undefined, path: string, problem: string): void {
    this.errors.push(this.format(obj, key, path, problem));
  }

  warn(obj: object | undefined, key: string | number | undefined, path: string, problem: string): void {
    this.warnings.push(this.format(obj, key, path, problem));
  }

  private format(obj: object | undefined, key: string | number | undefined, path: string, problem: string): string {
    const loc = locate(obj, key);
    if (loc) return `${shownName(loc.file)}:${loc.line}: ${loc.path || 'document'} ${problem}`;
    return `${this.where}: ${path || 'document'} ${problem}`;
  }
}
