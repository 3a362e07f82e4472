// The Packages index of a local repository, rewritten and parsed in one pass
// as it streams from the file: memory is one chunk and the records, never the
// index's text (which is as long as the image has packages).
import { rename, rm } from 'node:fs/promises';
import { PackagesParser } from '../../deb/packages.js';
import type { PackageRecord } from '../../deb/types.js';
import { openNoFollow } from '../../fs/safe.js';

// apt-ftparchive may write a symlink's resolved target as the Filename; a flat repository names each file by its link.
const FILENAME = /^Filename: (?:.*\/)?([^/\n]+)$/gm;

/** The text of whole lines with every Filename made `./<basename>`. */
export function flatFilenames(lines: string): string {
  return lines.replace(FILENAME, 'Filename: ./$1');
}

/** Rewrite `index` in place (through `<index>.tmp`) with flat Filenames, and return its records. */
export async function flattenIndex(index: string, repository: string): Promise<PackageRecord[]> {
  const parser = new PackagesParser(repository);
  const tmp = `${index}.tmp`;
  const out = await openNoFollow(tmp, 'w');
  try {
    const put = async (text: string): Promise<void> => {
      const bytes = Buffer.from(text, 'utf8');
      parser.push(bytes);
      await out.write(bytes);
    };
    // utf8: a character split between chunks is decoded whole.
    let rest = '';
    const input = await openNoFollow(index, 'r');
    for await (const chunk of input.createReadStream({ encoding: 'utf8' })) {
      const text = rest + (chunk as string);
      const cut = text.lastIndexOf('\n') + 1;
      rest = text.slice(cut);
      if (cut > 0) await put(flatFilenames(text.slice(0, cut)));
    }
    if (rest) await put(flatFilenames(rest));
    await out.close();
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, index);
  return parser.end();
}
