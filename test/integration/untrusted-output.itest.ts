// Text from outside (file names, catalogue URLs)
// reaches the terminal and the run log escaped and redacted, through a real
// CLI process.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeProject, type Project, runBuilder } from '../support/project.js';

let p: Project;
beforeEach(async () => {
  p = await makeProject({ count: 1 });
});
afterEach(async () => {
  await p.cleanup();
});

/** Raw control and bidi characters (tab and newline allowed). */
const RAW_CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe('untrusted text in output', () => {
  it('escapes a file name carrying terminal controls, a right-to-left override and a forged line', async () => {
    const name = path.join(p.dir, 'img\x1b[2J\u009b31m\u202etxt.raw\nerror: forged');
    await writeFile(name, 'not an image');
    const r = await runBuilder(['inspect', name], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('img\\u001b[2J\\u009b31m\\u202etxt.raw\n  error: forged');
    expect(r.stderr).not.toMatch(RAW_CONTROLS);
    expect(r.stderr).not.toMatch(/^error: forged/m);
  });

  it('redacts a token in a catalogue URL on the terminal and in the log', async () => {
    const f = p.files[0];
    if (!f) throw new Error('no file');
    const port = new URL(p.origin.url).port;
    const url = `http://127.0.0.1:${port}/gone/${f.file}?token=s3cret`;
    await writeFile(
      p.catalogue,
      `targets:\n  latest:\n    artifacts:\n      - section: ${f.section}\n        file: ${f.file}\n        url: ${url}\n        sha256: ${f.sha256}\n`,
    );
    const log = path.join(p.dir, 'run.log');
    const r = await runBuilder(['latest', 'cache', '--verbose'], { ...p.env, G3_LOG_FILE: log, G3_LOG_LEVEL: 'debug' });
    expect(r.code).toBe(1);
    const logged = await readFile(log, 'utf8');
    expect(r.stderr).toContain(`http://127.0.0.1:${port}/gone/${f.file}?token=***`);
    expect(logged).toContain(`http://127.0.0.1:${port}/gone/${f.file}?token=***`);
    for (const text of [r.stderr, r.stdout, logged]) {
      expect(text).not.toContain('s3cret');
      expect(text).not.toMatch(RAW_CONTROLS);
    }
  });
});
