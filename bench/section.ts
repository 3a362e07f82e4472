// Writing one benchmark's section of BENCHMARKS.md: replaced in place when it
// is there (up to the next "## " heading), appended when it is not.
import { readFile, writeFile } from 'node:fs/promises';

/** Put `section` (starting with `heading`) into the Markdown file `file`. */
export async function recordSection(file: string, heading: string, section: string): Promise<void> {
  const doc = await readFile(file, 'utf8');
  const at = doc.indexOf(heading);
  const next = at < 0 ? -1 : doc.indexOf('\n## ', at + heading.length);
  const updated = at < 0 ? `${doc.trimEnd()}\n\n${section}` : `${doc.slice(0, at)}${section}${next < 0 ? '' : doc.slice(next + 1)}`;
  await writeFile(file, updated);
}
