// `config show`: the effective settings and where each came from.
import { type ConfigReport, showConfig } from '../../commands/config.js';
import { ExitCode } from '../../errors.js';
import { escapeInline } from '../../text/untrusted.js';
import { defineCommand } from '../command.js';

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

/** `config show`: loads the settings itself, so it reports them rather than running on them; keeps no run log. */
export const configShowCommand = defineCommand({
  name: 'config show',
  summary: 'print the effective settings and where each came from',
  targetless: true,
  usage: 'config show [--json]',
  settings: false,
  runLog: false,
  description: `Prints each setting's effective value and where it came from. The first source
that sets a value wins: flags > environment > .env > config file > defaults.
The config file is --config, G3_CONFIG, ./g3-composer.yml,
~/.config/g3-composer/config.yml or /etc/g3-composer/config.yml: the first that
exists (files are not merged).`,
  examples: (prog) => [
    `${prog} config show`,
    `G3_WORKERS=16 ${prog} config show --workers 4   the flag wins`,
    `${prog} config show --config ci/g3-composer.yml --json`,
  ],
  run: ({ projectRoot, env, flags, cwd }) => showConfig({ projectRoot, env, flags, cwd }),
  render: (r, { out }) => {
    if (out.mode === 'json') {
      const settings = Object.fromEntries(
        r.settings.map(({ key, value, source, from }) => [key, { value: value ?? null, source, ...(from === undefined ? {} : { from }) }]),
      );
      out.result(JSON.stringify({ command: 'config show', configFile: r.file ?? null, searched: r.searched, settings }, null, 2));
    } else {
      out.result(renderConfig(r));
    }
    return ExitCode.ok;
  },
});
