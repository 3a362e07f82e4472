// Signature checks of Release files with gpgv. For a clearsigned InRelease the
// Release text is what gpgv writes with --output, never text cut out of the
// file by us: only gpgv knows which bytes the signature covers.
import { readFile, rm } from 'node:fs/promises';
import { makeTempDir } from '../../fs/temp.js';
import path from 'node:path';
import { StepError } from '../../errors.js';
import { type Command, run } from '../../exec.js';
import { ignoreNotFound } from '../../fs/safe.js';
import { interpretStatus, type SignatureVerdict } from './status.js';

/** The gpgv command that checks a clearsigned file and writes the signed text to `output`. */
export function clearsignedCommand(keyrings: string[], input: string, output: string): Command {
  return { command: 'gpgv', args: ['--status-fd', '1', ...keyringArgs(keyrings), '--output', output, input] };
}

/** The gpgv command that checks a detached signature over `data`. */
export function detachedCommand(keyrings: string[], signature: string, data: string): Command {
  return { command: 'gpgv', args: ['--status-fd', '1', ...keyringArgs(keyrings), signature, data] };
}

function keyringArgs(keyrings: string[]): string[] {
  return keyrings.flatMap((k) => ['--keyring', k]);
}

/** Check a clearsigned file; `text` is the signed content gpgv wrote (absent when there was none). */
export async function verifyClearsigned(file: string, keyrings: string[]): Promise<{ verdict: SignatureVerdict; text?: string }> {
  const dir = await makeTempDir('g3-gpgv-');
  try {
    const output = path.join(dir, 'Release');
    const verdict = await runGpgv(clearsignedCommand(keyrings, file, output));
    // gpgv writes no output for a file without a signed part; any other failure to read it is reported.
    const text = await ignoreNotFound(readFile(output, 'utf8'));
    return { verdict, text };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Check a detached signature over a file. */
export async function verifyDetached(signature: string, data: string, keyrings: string[]): Promise<SignatureVerdict> {
  return runGpgv(detachedCommand(keyrings, signature, data));
}

async function runGpgv(cmd: Command): Promise<SignatureVerdict> {
  const r = await run(cmd, { reject: false, package: 'gpgv' });
  // No status at all and a failure: gpgv itself broke, not the signature.
  if (r.exitCode !== 0 && !r.stdout.includes('[GNUPG:]')) {
    throw new StepError(`gpgv failed with exit code ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`, {
      command: [cmd.command, ...cmd.args],
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  }
  return interpretStatus(r.stdout);
}
