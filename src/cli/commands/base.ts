// `<target> base`: make the base image from the package cache, without a registry.
import { base } from '../../commands/build.js';
import { ExitCode } from '../../errors.js';
import { defineCommand, envHint, settingOption } from '../command.js';

/** `base`: always makes the image again (build makes it only when missing or stale). */
export const baseCommand = defineCommand({
  name: 'base',
  summary: 'create the base image from the package cache (no registry needed)',
  options: {
    ...settingOption('docker_client', { value: 'BIN', description: `Docker client (${envHint('docker_client')}; default: detected)` }),
  },
  description: `Makes g3-composer/base:<provider-id> from the Essential packages of the lock,
taken from the verified package cache: mmdebstrap bootstraps them from a local
file repository (no network) and docker imports the result. \`build\` does this
by itself when the image is missing or was made from other packages; \`base\`
always makes it again. Needs mmdebstrap and apt-utils on the host.`,
  examples: (prog) => [`${prog} latest base`, `${prog} latest base --offline`],
  run: ({ settings, target, env, emit }) => base({ settings, target, env, emit }),
  render: (r, { out }) => {
    if (out.mode === 'json') out.result(JSON.stringify({ command: 'base', ...r }, null, 2));
    else
      out.note(`${r.target}: base image ${r.base.ref} ${r.base.outcome} from ${r.base.packages} Essential packages (client ${r.client.bin}, ${r.client.mode})`);
    return ExitCode.ok;
  },
});
