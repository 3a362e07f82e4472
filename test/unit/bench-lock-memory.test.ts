import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { maxRssKiB } from '../../bench/lock-memory.js';
import { TEMPLATE } from '../../bench/oic-template.js';

const TIME_V = `oicmin: wrote /tmp/x/oicmin.lock.json (321 packages and 0 tools, 235.7 MiB)
\tCommand being timed: "./builder.sh oicmin lock --update"
\tUser time (seconds): 4.02
\tMaximum resident set size (kbytes): 329320
\tAverage resident set size (kbytes): 0
`;

describe('bench lock-memory', () => {
  it('reads the maximum resident set size from /usr/bin/time -v, not the average', () => {
    expect(maxRssKiB(TIME_V)).toBe(329_320);
  });

  it('reads nothing from output without that line', () => {
    expect(maxRssKiB(TIME_V.replace(/\tMaximum.*\n/, ''))).toBeUndefined();
  });

  it('measures a template of 49 packages plus the kernel, booted by grub from a 4 GiB GPT disk', () => {
    const t = parse(TEMPLATE) as {
      systemConfig: { packages: string[]; kernel: { packages: string[] }; bootloader: { provider: string } };
      disk: { size: string };
    };
    expect(t.systemConfig.packages).toHaveLength(49);
    expect(t.systemConfig.packages).toContain('cloud-init');
    expect(t.systemConfig.kernel.packages).toStrictEqual(['linux-image-amd64']);
    expect(t.systemConfig.bootloader.provider).toBe('grub');
    expect(t.disk.size).toBe('4GiB');
  });
});
