// `<target> validate [--merged]`: check the target's template against the
// schema, merged over its default template.
import { stringify as stringifyYaml } from 'yaml';
import { validate } from '../../commands/validate.js';
import { ExitCode } from '../../errors.js';
import { defineCommand } from '../command.js';

/** `validate`: errors are UserErrors (exit 2); warnings are counted in the summary line. */
export const validateCommand = defineCommand({
  name: 'validate',
  summary: "validate the target's image template (--merged: show it merged over the default)",
  options: {
    merged: { type: 'boolean', description: 'print the template merged over its default template' },
  },
  description: `Loads the target's template, merges it over the default template of its
os/dist/arch/imageType (defaults/templates/) and validates the whole. Errors name
file, line and field path (exit 2), and so does an unknown key, with the nearest
known one. A template's extends chain (one parent each, relative to its folder) is
merged child over parent over the default template; an ISO template's
systemConfig.initramfs template is validated too. --merged --json adds, for each
value, the file and line it came from ("origins").`,
  examples: (prog) => [
    `${prog} latest validate`,
    `${prog} latest validate --merged          print the merged template (YAML)`,
    `${prog} latest validate --merged --json`,
  ],
  run: ({ settings, target, flags, emit }) => validate({ settings, target, merged: flags.merged === true, emit }),
  render: (r, { out }) => {
    if (out.mode === 'json') out.result(JSON.stringify({ command: 'validate', ...r }, null, 2));
    else {
      out.result(stringifyYaml(r.template, { lineWidth: 0 }));
      out.note(`${r.target}: ${r.file} is valid (${r.providerId})${r.warnings.length ? `, ${r.warnings.length} warning(s)` : ''}`);
      if (r.chain.length > 1) out.note(`${r.target}: extends chain ${r.chain.join(' <- ')}`);
      if (r.initramfs) out.note(`${r.target}: its initramfs template ${r.initramfs.file} is valid (target ${r.initramfs.target})`);
    }
    return ExitCode.ok;
  },
});
