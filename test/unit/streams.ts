// Writable streams that collect what is written to them, for output tests.
import { Writable } from 'node:stream';

/** A stdout/stderr pair and the text written to each. */
export function captureStreams(): { text: { stdout: string; stderr: string }; streams: { stdout: Writable; stderr: Writable } } {
  const text = { stdout: '', stderr: '' };
  const sink = (k: keyof typeof text) =>
    new Writable({
      write(chunk, _enc, cb) {
        text[k] += String(chunk);
        cb();
      },
    });
  return { text, streams: { stdout: sink('stdout'), stderr: sink('stderr') } };
}
