// `config show`: the effective settings and where each came from.
import { type ConfigReport, showConfig } from '../../commands/config.js';
import type { LoadInput } from '../../config/load.js';
import { escapeInline } from '../../text/untrusted.js';
import type { Output } from '../output.js';

/** "flag --workers", "env G3_WORKERS", "config /x/g3-composer.yml:3", "default". */
function sourceText(s: ConfigReport['settings'][number]): string {
  return s.from === undefined ? s.source : `${s.source} ${s.from}`;
}

/** The report as an aligned `key  value  source` table under a line naming the config file. */
export function renderConfig(r: ConfigReport): string {
  const rows = [
    ['KEY', 'VALUE', 'SOURCE'],
    ...r.settings.map((s) => [s.key, s.value === undefined ? '(unset)' : escapeInline(String(s.value)), escapeInline(sourceText(s))]),
  ];
  const widths = [0, 1].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map(([k, v, src]) => `${k!.padEnd(widths[0]!)}  ${v!.padEnd(widths[1]!)}  ${src}`);
  const file = escapeInline(r.file ?? `none (searched ${r.searched.join(', ')})`);
  return [`config file: ${file}`, '', ...table].join('\n');
}

/** Print the effective settings (text or JSON) and return the exit code. */
export async function runConfigShow(input: LoadInput, out: Output): Promise<number> {
  const r = await showConfig(input);
  if (out.mode === 'json') {
    const settings = Object.fromEntries(
      r.settings.map(({ key, value, source, from }) => [key, { value: value ?? null, source, ...(from === undefined ? {} : { from }) }]),
    );
    out.result(JSON.stringify({ command: 'config show', configFile: r.file ?? null, searched: r.searched, settings }, null, 2));
  } else {
    out.result(renderConfig(r));
  }
  return 0;
}
