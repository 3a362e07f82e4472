// SOURCE_DATE_EPOCH for a build: the environment's when set (validated), else
// the commit time of the project's HEAD, so two builds of one commit stamp the
// same time; the current time only outside a git checkout.
import { run } from '../exec.js';
import { gitMissing, sourceDate } from './images/composer-image.js';

export interface SourceDate {
  epoch: number;
  from: 'SOURCE_DATE_EPOCH' | 'git HEAD' | 'now';
}

/** The build's SOURCE_DATE_EPOCH and where it came from. */
export async function buildSourceDate(projectRoot: string, env: Record<string, string | undefined>, now: Date = new Date()): Promise<SourceDate> {
  const given = sourceDate(env.SOURCE_DATE_EPOCH);
  if (given) return { epoch: Math.floor(given.getTime() / 1000), from: 'SOURCE_DATE_EPOCH' };
  const r = await run({ command: 'git', args: ['-C', projectRoot, 'log', '-1', '--format=%ct'] }, { reject: false }).catch(gitMissing);
  const ct = r && r.exitCode === 0 ? Number(r.stdout.trim()) : Number.NaN;
  if (Number.isInteger(ct) && ct > 0) return { epoch: ct, from: 'git HEAD' };
  return { epoch: Math.floor(now.getTime() / 1000), from: 'now' };
}
