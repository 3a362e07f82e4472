// `<target> lock [--update]`: resolve the template's packages from signed
// metadata and write the lock; print what changed.
import { lock } from '../../commands/lock.js';
import { ExitCode } from '../../errors.js';
import { defineCommand } from '../command.js';
import { formatBytes } from '../output.js';

/** `lock`: keeps a lock that matches the template unless --update. */
export const lockCommand = defineCommand({
  name: 'lock',
  summary: "resolve the template's packages from signed metadata and write <target>.lock.json",
  options: {
    update: { type: 'boolean', description: 'resolve again from the current signed metadata and rewrite the lock' },
  },
  description: `Reads each repository's signed metadata (InRelease checked with gpgv, Packages
indexes checked against the signed SHA256), resolves the template's packages and
the target's tools, and writes <target>.lock.json next to the targets file, plus
chrootpkgs.dot and <target>.dot in <cache_dir>/pkgCache/<provider-id>/.
A lock that matches the template is kept; one that does not is reported.`,
  examples: (prog) => [
    `${prog} latest lock`,
    `${prog} latest lock --update              resolve again, list added/removed/changed`,
    `${prog} latest lock --update --offline    from the last verified metadata`,
  ],
  run: ({ settings, target, flags, emit }) => lock({ settings, target, update: flags.update === true, emit }),
  render: (r, { out }) => {
    if (out.mode === 'json') out.result(JSON.stringify({ command: 'lock', ...r }, null, 2));
    else {
      const what = `${r.packages} packages and ${r.tools} tools, ${formatBytes(r.bytes)}`;
      if (r.status === 'current') out.note(`${r.target}: ${r.lockFile} is up to date (${what}); use --update to resolve again`);
      else {
        const c = r.changes;
        if (c) {
          for (const n of c.added) out.result(`added    ${n}`);
          for (const n of c.removed) out.result(`removed  ${n}`);
          for (const x of c.changed) out.result(`changed  ${x.name} ${x.from} -> ${x.to}`);
        }
        out.note(`${r.target}: wrote ${r.lockFile} (${what})${c ? `: ${c.added.length} added, ${c.removed.length} removed, ${c.changed.length} changed` : ''}`);
      }
    }
    return ExitCode.ok;
  },
});
