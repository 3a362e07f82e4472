// Run the host's apt against arbitrary sources without touching the system:
// every directory apt reads or writes points into a private temp dir, and the
// host's apt.conf.d, trusted keys and preferences are not read at all.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StepError } from '../../src/errors.js';
import { type RunResult, run } from '../../src/exec.js';

export interface AptOptions {
  /** sources.list text, e.g. `deb [signed-by=/k.gpg] http://127.0.0.1:PORT/ fix main`. */
  sources: string;
  /** APT::Architecture; default 'amd64'. */
  arch?: string;
  /** Work directory for apt's state and cache; default a temp dir removed afterwards. */
  dir?: string;
}

export interface AptInstall {
  name: string;
  version: string;
  arch: string;
}

export interface AptUpdateResult {
  /** apt-get update exited 0 and printed no error (E:) line. */
  ok: boolean;
  exitCode: number;
  /** The W: lines, e.g. a GPG problem apt chose to tolerate. */
  warnings: string[];
  /** stdout and stderr together, for assertions and failure messages. */
  output: string;
}

/** A private apt: the config file for APT_CONFIG and a runner for apt tools. */
interface PrivateApt {
  run(command: string, args: string[]): Promise<RunResult>;
}

// Write the private configuration under dir; apt reads APT_CONFIG before Dir::Etc::Parts, so ours wins.
async function privateApt(dir: string, opts: AptOptions): Promise<PrivateApt> {
  const d = (...p: string[]) => path.join(dir, ...p);
  for (const sub of [
    'etc/apt.conf.d',
    'etc/sources.list.d',
    'etc/preferences.d',
    'etc/trusted.gpg.d',
    'state/lists/partial',
    'cache/archives/partial',
    'log',
  ]) {
    await mkdir(d(sub), { recursive: true });
  }
  await writeFile(d('etc/sources.list'), opts.sources.endsWith('\n') ? opts.sources : `${opts.sources}\n`);
  await writeFile(d('status'), '');
  const arch = opts.arch ?? 'amd64';
  const settings: Array<[string, string]> = [
    ['Dir::Etc::Main', d('etc/apt.conf')],
    ['Dir::Etc::Parts', d('etc/apt.conf.d')],
    ['Dir::Etc::SourceList', d('etc/sources.list')],
    ['Dir::Etc::SourceParts', d('etc/sources.list.d')],
    ['Dir::Etc::Preferences', d('etc/preferences')],
    ['Dir::Etc::PreferencesParts', d('etc/preferences.d')],
    // No host keys: only a source's signed-by key can make it trusted.
    ['Dir::Etc::Trusted', d('etc/trusted.gpg')],
    ['Dir::Etc::TrustedParts', d('etc/trusted.gpg.d')],
    ['Dir::State', d('state')],
    ['Dir::State::status', d('status')],
    ['Dir::Cache', d('cache')],
    ['Dir::Log', d('log')],
    ['Debug::NoLocking', 'true'],
    ['APT::Architecture', arch],
    ['APT::Architectures', arch],
    // The _apt sandbox user may not be able to read a test's temp dir.
    ['APT::Sandbox::User', 'root'],
    ['Acquire::Languages', 'none'],
    ['Acquire::http::Proxy::127.0.0.1', 'DIRECT'],
    ['Acquire::Retries', '0'],
  ];
  const conf = settings.map(([k, v]) => `${k} ${JSON.stringify(v)};\n`).join('');
  await writeFile(d('apt.conf'), conf);
  return {
    run: (command, args) => run({ command, args }, { env: { APT_CONFIG: d('apt.conf') }, reject: false, package: 'apt' }),
  };
}

/** Give apt a temp dir unless the caller chose one. */
async function withDir<T>(dir: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  if (dir) return fn(path.resolve(dir));
  const tmp = await mkdtemp(path.join(tmpdir(), 'g3-apt-'));
  try {
    return await fn(tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function update(apt: PrivateApt): Promise<AptUpdateResult> {
  const r = await apt.run('apt-get', ['update']);
  const output = `${r.stdout}\n${r.stderr}`.trim();
  // Some failures only show as E: lines, so both the exit code and the text count.
  const ok = r.exitCode === 0 && !/^E: /m.test(output);
  const warnings = [...output.matchAll(/^W: .*$/gm)].map((m) => m[0]);
  return { ok, exitCode: r.exitCode, warnings, output };
}

// Parse `Inst name [old] (version release [arch])` lines of apt-get --simulate.
export function parseSimulate(stdout: string): AptInstall[] {
  const installs: AptInstall[] = [];
  for (const m of stdout.matchAll(/^Inst (\S+)(?: \[[^\]]*\])? \((\S+) [^\n]*?\[([^\]]+)\]\)/gm)) {
    installs.push({ name: m[1] ?? '', version: m[2] ?? '', arch: m[3] ?? '' });
  }
  return installs;
}

// apt-get update with a private configuration; reports instead of throwing so tests can assert refusals.
export async function aptUpdate(opts: AptOptions): Promise<AptUpdateResult> {
  return withDir(opts.dir, async (dir) => update(await privateApt(dir, opts)));
}

// What apt would install for `packages` from `sources` on an empty system (update + install --simulate).
export async function aptSimulate(
  opts: AptOptions & { packages: string[]; recommends?: boolean },
): Promise<{ installs: AptInstall[]; warnings: string[]; output: string }> {
  return withDir(opts.dir, async (dir) => {
    const apt = await privateApt(dir, opts);
    const up = await update(apt);
    if (!up.ok)
      throw new StepError(`apt-get update failed (exit ${up.exitCode}):\n${up.output}`, {
        command: ['apt-get', 'update'],
        exitCode: up.exitCode,
        stderr: up.output,
      });
    const args = ['install', '--simulate', '--yes', opts.recommends ? '--install-recommends' : '--no-install-recommends', ...opts.packages];
    const r = await apt.run('apt-get', args);
    const output = `${r.stdout}\n${r.stderr}`.trim();
    if (r.exitCode !== 0)
      throw new StepError(`apt-get ${args.join(' ')} failed (exit ${r.exitCode}):\n${output}`, {
        command: ['apt-get', ...args],
        exitCode: r.exitCode,
        stderr: r.stderr,
      });
    return { installs: parseSimulate(r.stdout), warnings: up.warnings, output };
  });
}
