// The benchmarks' own project: the default template and the composer
// Dockerfile copied from docker/, one target `bench` with the default target's
// tools, under `<out>/project/`. Starts from an empty `out`.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../src/exec.js';

/** Make `<out>/project/` afresh; `extra` lines go into the target (e.g. `image: ...`). Returns the project directory. */
export async function benchProject(root: string, out: string, extra: string[] = []): Promise<string> {
  const project = (...p: string[]) => path.join(out, 'project', ...p);
  await run({ command: 'rm', args: ['-rf', out] });
  await mkdir(project('templates'), { recursive: true });
  for (const f of ['Dockerfile', '.dockerignore']) await copyFile(path.join(root, 'docker', f), project(f));
  await copyFile(path.join(root, 'docker', 'templates', 'minimal.yml'), project('templates', 'minimal.yml'));
  const catalogue = await readFile(path.join(root, 'docker', 'targets.yml'), 'utf8');
  const tools = /^\s+tools: (\[.*\])$/m.exec(catalogue)?.[1] ?? '[]';
  await writeFile(
    project('targets.yml'),
    `targets:\n  bench:\n    template: templates/minimal.yml\n${extra.map((l) => `    ${l}\n`).join('')}    tools: ${tools}\n`,
  );
  return project();
}
