// Registry credentials come only from the environment, and every text that
// could echo them (tool output, registry errors) passes through redact first.
import { UserError } from '../errors.js';

export interface Credentials {
  username: string;
  password: string;
  /** Which pair of variables they came from, for messages (never the values). */
  from: 'REGISTRY_*' | 'DOCKERHUB_*';
}

const PAIRS = [
  { from: 'REGISTRY_*', user: 'REGISTRY_USERNAME', pass: 'REGISTRY_PASSWORD' },
  { from: 'DOCKERHUB_*', user: 'DOCKERHUB_USERNAME', pass: 'DOCKERHUB_PASSWORD' },
] as const;

/** Registry credentials from REGISTRY_USERNAME/PASSWORD, else DOCKERHUB_USERNAME/PASSWORD; undefined when neither pair is set. */
export function credentialsFromEnv(env: Record<string, string | undefined>): Credentials | undefined {
  for (const pair of PAIRS) {
    // An empty value counts as unset: CI systems expand a missing secret to ''.
    const username = env[pair.user] || undefined;
    const password = env[pair.pass] || undefined;
    if (username && password) return { username, password, from: pair.from };
    if (username || password) {
      const [set, missing] = username ? [pair.user, pair.pass] : [pair.pass, pair.user];
      throw new UserError(`${set} is set but ${missing} is not`, `Set both ${pair.user} and ${pair.pass} (or neither, to push without logging in).`);
    }
  }
  return undefined;
}

/** The forms a secret can take in output we show: itself, and the base64 `user:password` of a Basic header or docker config. */
function secretForms(creds: Pick<Credentials, 'username' | 'password'>): string[] {
  const { username, password } = creds;
  const forms = [
    password,
    Buffer.from(`${username}:${password}`).toString('base64'),
    Buffer.from(password).toString('base64'),
    encodeURIComponent(password),
    JSON.stringify(password).slice(1, -1),
  ];
  // Longest first, so a longer form is not left half-replaced by a shorter one inside it.
  return [...new Set(forms.filter((f) => f.length > 0))].sort((a, b) => b.length - a.length);
}

/** Replace the password (and its encoded forms) in `text` with ***. */
export function redact(text: string, creds: Pick<Credentials, 'username' | 'password'> | undefined): string {
  if (!creds?.password) return text;
  let out = text;
  for (const form of secretForms(creds)) out = out.split(form).join('***');
  return out;
}
