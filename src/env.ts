// Environment access goes through here so tests can swap it.

export type Env = Readonly<Record<string, string | undefined>>;

let current: Env = process.env;

/** The environment the library reads settings from. */
export function getEnv(): Env {
  return current;
}

/** Replace the environment (tests); returns a function that restores the old one. */
export function setEnv(env: Env): () => void {
  const previous = current;
  current = env;
  return () => {
    current = previous;
  };
}

/** True for the usual spellings of "on". */
export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}
