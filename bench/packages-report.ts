// The packages benchmark's section of BENCHMARKS.md: rendered from the
// results, and put in place of the previous one (the rest of the file is kept).
import { readFile, writeFile } from 'node:fs/promises';
import type { SetDiff } from './packages-apt.js';
import type { DamageProbe } from './packages-probes.js';
import { type Facts, type Measured, type Pair, resultsTable } from './report.js';

export const HEADING = '## Packages stage';

export interface PackagesReport {
  facts: Facts;
  command: string;
  runs: number;
  coldRuns: number;
  workers: number;
  /** Repository URLs already written as ${mirror} / ${security_mirror}. */
  repos: Array<{ id: string; url: string; codename: string; components: string[] }>;
  indexes: Array<{ repo: string; path: string; bytes: number; stanzas: number }>;
  request: string[];
  seeds: number;
  closure: { packages: number; bytes: number };
  pairs: Pair[];
  timings: Measured[];
  diff: SetDiff;
  probes: { ours: DamageProbe; apt: DamageProbe };
  downloadedBytes: number;
}

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
const secs = (s: number) => (s < 0.1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);

function timingsTable(ts: readonly Measured[]): string {
  const rate = (t: Measured) => (t.bytes ? `${(t.bytes / MiB / t.median).toFixed(1)} MiB/s` : '');
  return [
    '| Scenario | Command | runs (s) | median | min – max | throughput |',
    '|---|---|---|---:|---:|---:|',
    ...ts.map(
      (t) =>
        `| ${t.scenario} | ${t.display} | ${t.seconds.map((s) => s.toFixed(3)).join(', ')} | ${secs(t.median)} | ${secs(t.min)} – ${secs(t.max)} | ${rate(t)} |`,
    ),
  ].join('\n');
}

// "170 MiB/s and 119 MiB/s": the throughput of the cold fetches.
function rates(ts: readonly Measured[]): string {
  const list = ts.filter((t) => t.bytes).map((t) => `${(t.bytes! / MiB / t.median).toFixed(0)} MiB/s`);
  return list.length ? list.join(' and ') : 'an unmeasured rate';
}

function diffText(d: SetDiff): string {
  const total = d.onlyOurs.length + d.onlyApt.length + d.versionDiffers.length;
  const lines = [`Our resolver chose ${d.ours} packages, apt ${d.apt}; ${d.same} are the same name and version. **Differences: ${total}.**`];
  if (d.onlyOurs.length) lines.push(`- only ours (${d.onlyOurs.length}): ${d.onlyOurs.join(', ')}`);
  if (d.onlyApt.length) lines.push(`- only apt (${d.onlyApt.length}): ${d.onlyApt.join(', ')}`);
  if (d.versionDiffers.length)
    lines.push(`- other version (${d.versionDiffers.length}): ${d.versionDiffers.map((v) => `${v.name} (ours ${v.ours}, apt ${v.apt})`).join(', ')}`);
  return lines.join('\n');
}

function probeText(name: string, p: DamageProbe): string {
  const what = p.refetched ? 'fetched it again' : 'kept it';
  return `- ${name}: ${what}; afterwards the file ${p.intactAfter ? 'matches' : '**does not match**'} the locked SHA256 (exit ${p.exitCode}).`;
}

/** The whole section, from its heading to its last line. */
export function renderSection(r: PackagesReport): string {
  const f = r.facts;
  const main = r.indexes.find((x) => x.path.startsWith('main/'));
  const stanzas = r.indexes.reduce((n, x) => n + x.stanzas, 0);
  const text = r.indexes.reduce((n, x) => n + x.bytes, 0);
  return `${HEADING}

The packages stage of a template target (\`./builder.sh <target> lock\`: verified metadata → \`parsePackages\` →
\`resolve\`; \`./builder.sh <target> cache\`: the locked \`.deb\` files, each verified) against what a user would otherwise
run: apt, with a private configuration on the same repositories and keys (\`test/support/apt.ts\`). Measured side by
side in one run of \`${r.command}\` (\`bench/packages.ts\`), which writes this section; \`npm run bench\` writes the rest.

### Set-up

- **Date:** ${f.date}
- **Machine:** nproc ${f.nproc}; ${f.cpu}; memory ${f.memory}; ${f.kernel}; Node ${f.node}; work directory on ${f.benchFs}
- **Tools:** ${f.tools.join('; ')}
- **Repositories** (the default template of debian13 x86_64 raw): ${r.repos.map((x) => `\`${x.url} ${x.codename}\``).join(', ')}; components ${r.repos[0]?.components.join(' ') ?? ''}; amd64 and all. ${r.indexes.length} Packages indexes, ${mib(text)} of text, ${stanzas} stanzas${main ? `; ${main.repo} ${main.path}: ${main.stanzas} stanzas, ${mib(main.bytes)} uncompressed` : ''}.
- **Request:** ${r.request.length} packages (bench/packages-target.ts plus the default template's): ${r.request.join(', ')}. Base set: Priority required and Essential, as the lock resolves it; apt gets those ${r.seeds} seed names on its command line too.
- **Closure** (the lock's image set, fetched in scenarios 2 and 3): ${r.closure.packages} packages, ${mib(r.closure.bytes)}.
- **Method:** \`builder.sh --help\` ran once first (untimed), so a rebuild of its bundle falls in no measured run. In-process rows are library calls timed inside one Node process (no start-up), median of ${r.runs}. Process rows are wall-clock around the child (\`sync\` before each run, untimed), round-robin within the scenario, median of ${r.runs}; network rows ran ${r.coldRuns} time(s) each, from the same mirror, ours first. \`builder.sh\` ran with \`--json\` and ${r.workers} workers. About ${mib(r.downloadedBytes)} were downloaded in all.

### Results

Ratio below 1: g3-composer is faster.

${resultsTable(r.pairs)}

### All timings

${timingsTable(r.timings)}

### Did both choose the same packages?

${diffText(r.diff)}

### A damaged file of the right size

The smallest locked package (${r.probes.ours.package}) had 16 bytes flipped in both caches, then each side's warm command ran again:

${probeText('`builder.sh <t> cache`', r.probes.ours)}
${probeText('`apt-get download`', r.probes.apt)}

### Reading the numbers

- Scenarios 0 and 2 are network-bound (here the mirror delivered ${rates(r.timings)}): one run each says more about the
  mirror and the path to it than about the tools; read them as "same order of magnitude or not". The mirror may serve
  the second fetcher from a warmer cache.
- \`apt-get install --simulate\` normally reads \`pkgcache.bin\`, the binary cache that \`apt-get update\` builds: its
  parsing is done once per update. The \`pkgcache=\` rows make apt parse its lists every run, which is what our lock does.
- \`lock --offline\` re-verifies the stored Release signature (gpgv), rehashes and decompresses (xz) every index,
  parses, resolves and writes the lock and Graphviz files, and includes Node's start-up; apt's rows start a C++ binary.
- ${r.probes.apt.refetched ? 'Warm `apt-get download` fetched the damaged file again: it checks what is there' : 'Warm `apt-get download` skips a file whose name and size match, without hashing it (see the damaged-file probe): a size check, not a verification'}.
  \`sha256sum -c\` is the cost of actually verifying what is there. \`cache\` trusts its verification stamps (size,
  mtime, inode) and rehashes only changed files; \`--verify\` rehashes all.
`;
}

/** Put `section` in BENCHMARKS.md in place of the previous one, or append it. */
export async function recordSection(file: string, section: string): Promise<void> {
  const doc = await readFile(file, 'utf8').catch(() => '');
  const start = doc.indexOf(`\n${HEADING}\n`);
  if (start < 0) {
    await writeFile(file, `${doc.trimEnd()}\n\n${section}`);
    return;
  }
  // The section ends at the next level-2 heading (its own headings are level 3).
  const next = doc.indexOf('\n## ', start + HEADING.length + 1);
  const rest = next < 0 ? '' : doc.slice(next);
  await writeFile(file, `${doc.slice(0, start)}\n${section}${rest}`);
}
