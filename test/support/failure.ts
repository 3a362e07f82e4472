// The error a promise rejects with, checked to be of the expected class (a
// promise that resolves fails the test).
import { expect } from 'vitest';

/** Await `p`'s rejection and assert it is an instance of `kind`. */
export async function rejectionOf<E extends Error>(p: Promise<unknown>, kind: abstract new (...args: never[]) => E): Promise<E> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(kind);
  return err as E;
}
