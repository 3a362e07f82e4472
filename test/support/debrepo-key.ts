// Throw-away OpenPGP keys for signing test repositories. Each key has its own
// GNUPGHOME under /tmp with a short name: gpg-agent's socket lives there and
// socket paths are limited to ~107 characters.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../src/exec.js';

// Which signatures a suite carries: InRelease, Release.gpg, both or none.
export type SignMode = 'inrelease' | 'detached' | 'both' | 'none';

export interface SigningKey {
  /** GNUPGHOME holding the secret key. */
  home: string;
  fingerprint: string;
  /** Binary public keyring (gpg --export), for gpgv --keyring and apt's signed-by. */
  keyring: string;
  /** ASCII-armored public key (.asc). */
  armored: string;
}

// Homes whose gpg-agent is still alive; stopped on exit if a test forgot disposeKey.
const live = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous, so this safety net cannot use src/exec.ts.
  process.on('exit', () => {
    for (const home of live) spawnSync('gpgconf', ['--homedir', home, '--kill', 'all'], { stdio: 'ignore' });
  });
}

/** gpg without prompts: no passphrase, no pinentry, no trust questions. */
function gpg(home: string, args: string[]) {
  return run(
    {
      command: 'gpg',
      args: ['--batch', '--yes', '--quiet', '--homedir', home, '--pinentry-mode', 'loopback', '--passphrase', '', ...args],
    },
    { package: 'gnupg' },
  );
}

// Make a fresh ed25519 signing key without passphrase; public key files are written to dir.
export async function makeSigningKey(dir: string, name = 'g3 fixture'): Promise<SigningKey> {
  installExitHook();
  const home = await mkdtemp('/tmp/g3k-');
  live.add(home);
  await gpg(home, ['--quick-gen-key', `${name} <fixture@example.invalid>`, 'ed25519', 'sign', 'never']);
  const listing = await gpg(home, ['--with-colons', '--list-secret-keys']);
  const fingerprint = /^fpr:(?::[^:]*){7}:([0-9A-F]{40,64}):/m.exec(listing.stdout)?.[1];
  if (!fingerprint) throw new Error(`gpg listed no fingerprint for the new key in ${home}:\n${listing.stdout}`);
  await mkdir(dir, { recursive: true });
  const slug = name.replace(/[^\w.-]+/g, '-');
  const keyring = path.join(path.resolve(dir), `${slug}.gpg`);
  const armored = path.join(path.resolve(dir), `${slug}.asc`);
  await gpg(home, ['--output', keyring, '--export', fingerprint]);
  await gpg(home, ['--armor', '--output', armored, '--export', fingerprint]);
  return { home, fingerprint, keyring, armored };
}

// Stop the key's gpg-agent and remove its GNUPGHOME (the public key files stay).
export async function disposeKey(k: SigningKey): Promise<void> {
  await run({ command: 'gpgconf', args: ['--homedir', k.home, '--kill', 'all'] }, { reject: false, package: 'gnupg' });
  live.delete(k.home);
  await rm(k.home, { recursive: true, force: true });
}

/** InRelease: the Release text clear-signed. */
async function clearSign(key: SigningKey, release: string, out: string): Promise<void> {
  await gpg(key.home, ['--local-user', key.fingerprint, '--digest-algo', 'SHA512', '--output', out, '--clearsign', release]);
}

/** Release.gpg: an armored detached signature of Release. */
async function detachSign(key: SigningKey, release: string, out: string): Promise<void> {
  await gpg(key.home, ['--local-user', key.fingerprint, '--digest-algo', 'SHA512', '--armor', '--output', out, '--detach-sign', release]);
}

// Write whichever signatures `sign` asks for next to Release (also used to re-sign).
export async function signRelease(dir: string, sign: SignMode, key: SigningKey | undefined, codename: string) {
  if (sign === 'none') return {};
  if (!key) throw new Error(`suite ${codename} asks for sign '${sign}' but no key was given; pass opts.key`);
  const release = path.join(dir, 'Release');
  const out: { inRelease?: string; releaseGpg?: string } = {};
  if (sign === 'inrelease' || sign === 'both') {
    out.inRelease = path.join(dir, 'InRelease');
    await clearSign(key, release, out.inRelease);
  }
  if (sign === 'detached' || sign === 'both') {
    out.releaseGpg = path.join(dir, 'Release.gpg');
    await detachSign(key, release, out.releaseGpg);
  }
  return out;
}
