// The cold-refresh commands of the benchmark, for one origin and its data set:
// g3-composer with empty local and shared tiers, a serial wget loop and
// `xargs -P curl`, each checked to have fetched every file exactly once.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { expectExit, expectFetches, expectRefresh, expectTree } from './checks.js';
import type { DataSet, Lists } from './data.js';
import type { Command } from './measure.js';
import { delta, type OriginProcess, type Stats } from './origin.js';

/** A measured command as the report shows it, with the bytes it moves. */
export type Spec = Command & { display: string; bytes?: number };

/** An origin, the data set it serves and the lists written for it. */
export interface Source {
  origin: OriginProcess;
  ds: DataSet;
  lists: Lists;
}

/** Where each command of a cold refresh writes. */
export interface ColdDirs {
  local: string;
  shared: string;
  wget: string;
  curl: string;
}

/** Empty `dir`, making it when missing. */
export async function fresh(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

/** How g3-composer is run on a catalogue (`bench cache` with both tiers named). */
export function g3Command(root: string, catalogue: string, local: string, shared: string, workers: number, extra: string[] = []) {
  return {
    file: path.join(root, 'builder.sh'),
    args: ['bench', 'cache', '--targets', catalogue, '--g3-cache', local, '--shared-cache', shared, '--workers', String(workers), '--json', ...extra],
    cwd: root,
  };
}

/** A bash script run from the project root, with `args` as $1, $2, ... */
export function bashCommand(root: string, script: string, ...args: string[]) {
  return { file: 'bash', args: ['-c', script, 'bench', ...args], cwd: root };
}

export interface ColdCommands {
  /** g3-composer with `workers`, from empty local and shared tiers. */
  g3(workers: number): Spec;
  wget: Spec;
  curl: Spec;
}

/**
 * The cold-refresh commands against `src`. Labels start with `tag` (they name
 * timings across scenarios, so they must differ between two sources); the
 * default worker count `workers` is not repeated in the display.
 */
export function coldCommands(root: string, src: Source, dirs: ColdDirs, workers: number, tag = ''): ColdCommands {
  const { origin, ds, lists } = src;
  const n = ds.items.length;
  let snap: Stats = { total: 0, perPath: {} };
  const snapshot = async () => {
    snap = await origin.stats();
  };
  const fetchedOnce = async () => expectFetches(delta(snap, await origin.stats()), ds, 1);
  const download = (label: string, display: string, to: string, script: string, ...args: string[]): Spec => ({
    label: `${tag}${label}`,
    display,
    bytes: ds.totalBytes,
    ...bashCommand(root, script, to, ...args),
    prepare: async () => {
      await fresh(path.join(to, 'pool'));
      await snapshot();
    },
    check: async (r) => {
      expectExit(r);
      await fetchedOnce();
      await expectTree(to, ds);
    },
  });
  return {
    g3: (w) => ({
      label: `${tag}g3-composer cold (--workers ${w})`,
      display: `\`builder.sh bench cache\`${w === workers ? '' : ` \`--workers ${w}\``} (empty local and shared tiers)`,
      bytes: ds.totalBytes,
      ...g3Command(root, lists.catalogue, dirs.local, dirs.shared, w),
      prepare: async () => {
        await rm(dirs.local, { recursive: true, force: true });
        await fresh(dirs.shared);
        await snapshot();
      },
      check: async (r) => {
        expectRefresh(r, ds, { origin: n, writtenBack: n });
        await fetchedOnce();
        await expectTree(dirs.local, ds);
      },
    }),
    wget: download(
      'serial wget loop',
      'serial `wget -q -O` loop (g3)',
      dirs.wget,
      'while read -r file url; do wget -q -O "$1/pool/$file" "$url" || exit 1; done < "$2"',
      lists.urls,
    ),
    curl: download(
      `xargs -P${workers} curl`,
      `\`xargs -P${workers} -n2 curl -sf -o\``,
      dirs.curl,
      'cd "$1/pool" && xargs -P"$3" -n2 curl -sf -o < "$2"',
      lists.urls,
      String(workers),
    ),
  };
}
