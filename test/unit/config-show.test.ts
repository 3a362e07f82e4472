import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { renderConfig } from '../../src/cli/commands/config.js';
import { showConfig } from '../../src/commands/config.js';
import { SETTINGS } from '../../src/config/schema.js';
import { captureStreams } from './streams.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-config-show-');

/** Both mirrors set, so the host's apt sources are never read. */
const CONFIG = ['# test config', 'cache_dir: pkg', 'workers: 6', 'mirror: http://127.0.0.1:9/debian', 'security_mirror: http://127.0.0.1:9/security', ''].join(
  '\n',
);

/** Run the CLI in a temp project (the working directory too) holding ./g3-composer.yml and .env. */
async function run(argv: string[], o: { config?: string; dotenv?: string; env?: Record<string, string> } = {}) {
  const root = await tempDir();
  if (o.config !== undefined) await writeFile(path.join(root, 'g3-composer.yml'), o.config);
  if (o.dotenv !== undefined) await writeFile(path.join(root, '.env'), o.dotenv);
  const { text, streams } = captureStreams();
  const code = await main(argv, { ...streams, env: o.env ?? {}, cwd: root, projectRoot: root, prog: 'builder' });
  return { code, root, ...text };
}

describe('config show', () => {
  it('prints every setting with its value and source in aligned columns', async () => {
    const r = await run(['config', 'show', '--workers', '3'], { config: CONFIG, dotenv: 'G3_RETRIES=2\n', env: { G3_OFFLINE: '1' } });
    expect(r.code).toBe(0);
    const file = path.join(r.root, 'g3-composer.yml');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`config file: ${file}`);
    const rows = new Map(lines.slice(3).map((l) => [l.split(/\s+/)[0], l.split(/\s{2,}/).slice(1)]));
    expect(rows.get('workers')).toEqual(['3', 'flag --workers']);
    expect(rows.get('offline')).toEqual(['true', 'env G3_OFFLINE']);
    expect(rows.get('retries')).toEqual(['2', '.env G3_RETRIES']);
    expect(rows.get('cache_dir')).toEqual([path.join(r.root, 'pkg'), `config ${file}:2`]);
    expect(rows.get('http_timeout')).toEqual(['30', 'default']);
    expect(rows.get('registry')).toEqual(['(unset)', 'default']);
    expect(rows.get('log_file')).toEqual([path.join(r.root, 'workspace', 'logs', 'g3-composer.log'), 'derived']);
    expect([...rows.keys()]).toEqual(SETTINGS.map((s) => s.key));
    // Aligned: the value column starts at the same place on every row, the header included.
    const valueStart = (l: string) => l.search(/ {2}\S/);
    expect(new Set(lines.slice(2).map(valueStart)).size).toBe(1);
  });

  it('prints one JSON document with --json', async () => {
    const r = await run(['config', 'show', '--json'], { config: CONFIG, env: { G3_WORKERS: '5' } });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { command: string; configFile: string; settings: Record<string, { value: unknown; source: string; from?: string }> };
    expect(doc.command).toBe('config show');
    expect(doc.configFile).toBe(path.join(r.root, 'g3-composer.yml'));
    expect(Object.keys(doc.settings)).toEqual(SETTINGS.map((s) => s.key));
    expect(doc.settings.workers).toEqual({ value: 5, source: 'env', from: 'G3_WORKERS' });
    expect(doc.settings.cache_dir).toEqual({ value: path.join(r.root, 'pkg'), source: 'config', from: `${doc.configFile}:2` });
    expect(doc.settings.offline).toEqual({ value: false, source: 'default' });
    expect(doc.settings.registry).toEqual({ value: null, source: 'default' });
  });

  it('reads the file named by --config', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'etc'));
    await writeFile(path.join(root, 'etc', 'mine.yml'), CONFIG.replace('workers: 6', 'workers: 7'));
    const { text, streams } = captureStreams();
    const code = await main(['config', 'show', '--json', '--config', 'etc/mine.yml'], { ...streams, env: {}, cwd: root, projectRoot: root, prog: 'builder' });
    expect(code).toBe(0);
    const doc = JSON.parse(text.stdout) as { configFile: string; settings: Record<string, { value: unknown }> };
    expect(doc.configFile).toBe(path.join(root, 'etc', 'mine.yml'));
    expect(doc.settings.workers?.value).toBe(7);
    expect(doc.settings.cache_dir?.value).toBe(path.join(root, 'etc', 'pkg'));
  });

  it.each([
    ['a duplicate key in the config file', { config: `${CONFIG}workers: 4\n` }, /^error: .*g3-composer\.yml:6: malformed YAML: Map keys must be unique\n/],
    [
      'a value in the config file',
      { config: CONFIG.replace('workers: 6', 'workers: abc') },
      /^error: invalid workers from .*g3-composer\.yml:3 \(config file\): expected a whole number from 1 to 64\n/,
    ],
    ['the environment', { config: CONFIG, env: { G3_WORKERS: '0' } }, /^error: invalid workers "0" from G3_WORKERS \(env\): /],
    [
      '.env',
      { config: CONFIG, dotenv: 'G3_LOG_LEVEL=loud\n' },
      /^error: invalid log_level from G3_LOG_LEVEL \(\.env\): expected one of error, warn, info, debug\n/,
    ],
    ['an unknown key', { config: `${CONFIG}wokers: 4\n` }, /^error: .*g3-composer\.yml:6: unknown setting "wokers"\nDid you mean "workers"\?/],
  ])('exits 2 for a bad value from %s, naming it on stderr', async (_what, o, message) => {
    const r = await run(['config', 'show'], o);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('exits 2 when the file named by --config does not exist', async () => {
    const r = await run(['config', 'show', '--config', 'missing.yml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: config file ${path.join(r.root, 'missing.yml')} (from --config) does not exist`);
  });
});

describe('showConfig and renderConfig', () => {
  it('names the places searched when there is no config file', async () => {
    const root = await tempDir();
    const env = { HOME: path.join(root, 'home'), G3_MIRROR: 'http://127.0.0.1:9/d', G3_SECURITY_MIRROR: 'http://127.0.0.1:9/s' };
    const r = await showConfig({ projectRoot: root, cwd: root, env, flags: {}, configRoots: { etc: path.join(root, 'etc') } });
    const searched = [
      path.join(root, 'g3-composer.yml'),
      path.join(root, 'home/.config/g3-composer/config.yml'),
      path.join(root, 'etc/g3-composer/config.yml'),
    ];
    expect(r.file).toBeUndefined();
    expect(r.searched).toEqual(searched);
    expect(renderConfig(r).split('\n')[0]).toBe(`config file: none (searched ${searched.join(', ')})`);
  });
});
