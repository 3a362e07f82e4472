// Typed events the library emits; a renderer per output mode turns them into text.

export type Tier = 'local' | 'shared' | 'registry' | 'origin';

export type CacheEvent =
  | { type: 'warning'; message: string }
  | { type: 'info'; message: string }
  /** Shown only with --verbose (external command lines, timings). */
  | { type: 'debug'; message: string }
  | { type: 'start'; items: number; bytes: number }
  | { type: 'item-done'; item: string; from: Tier; bytes: number; seconds: number; detail?: string }
  | { type: 'item-failed'; item: string; reason: string }
  | { type: 'item-missing'; item: string; reason: string }
  | { type: 'corrupt'; item: string; tier: Exclude<Tier, 'origin'>; reason: string }
  | { type: 'waiting'; item: string; holder: string }
  | { type: 'retry'; item: string; url: string; reason: string }
  | { type: 'bytes'; n: number };

export type Emit = (e: CacheEvent) => void;

/** An emitter that drops everything (library calls from tests). */
export const silent: Emit = () => undefined;
