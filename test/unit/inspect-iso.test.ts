// inspect's ISO 9660 reader: the primary volume descriptor and xorriso's
// El Torito and system area report, on bytes and text written here.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isIso9660, parsePvd, parseXorrisoReport, readPvd } from '../../src/inspect/iso.js';
import { useTempDirs } from './tmpdir.js';

const tmp = useTempDirs();

/** A primary volume descriptor with `id` and `blocks` sectors of 2048 bytes. */
function pvd(id: string, blocks: number): Buffer {
  const b = Buffer.alloc(2048);
  b[0] = 1;
  b.write('CD001', 1, 'latin1');
  b[6] = 1;
  b.write(id.padEnd(32, ' '), 40, 'latin1');
  b.writeUInt32LE(blocks, 80);
  b.writeUInt32BE(blocks, 84);
  b.writeUInt16LE(2048, 128);
  b.writeUInt16BE(2048, 130);
  return b;
}

describe('the ISO 9660 reader', () => {
  it('reads the volume id and size from the primary volume descriptor', () => {
    expect(parsePvd(pvd('G3_LIVE_1_0_0', 1000))).toEqual({ volumeId: 'G3_LIVE_1_0_0', volumeBytes: 2_048_000 });
  });

  it('escapes control characters in a volume id', () => {
    expect(parsePvd(pvd('A\u001b[2JB', 1)).volumeId).not.toContain('\u001b');
  });

  it('finds the descriptor at sector 16 of a file, and nothing in a file that is no ISO', async () => {
    const dir = await tmp();
    const iso = path.join(dir, 'a.iso');
    await writeFile(iso, Buffer.concat([Buffer.alloc(16 * 2048), pvd('X', 20), Buffer.alloc(2048)]));
    expect((await readPvd(iso))?.subarray(0, 6).toString('latin1')).toBe('\u0001CD001');
    const raw = path.join(dir, 'a.raw');
    await writeFile(raw, Buffer.alloc(20 * 2048));
    expect(await readPvd(raw)).toBeUndefined();
    expect(isIso9660(Buffer.from('\u0002CD001\u0001', 'latin1'))).toBe(false);
  });

  it("parses xorriso's El Torito entries and system area summary", () => {
    const text = [
      'Drive current: -indev /x.iso',
      'El Torito catalog  : 40  1',
      'El Torito images   :   N  Pltf  B   Emul  Ld_seg  Hdpt  Ldsiz         LBA',
      'El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4          52',
      'El Torito boot img :   2  UEFI  y   none  0x0000  0x00   8192     252893',
      'System area summary: MBR protective-msdos-label grub2-mbr cyl-align-off GPT',
    ].join('\n');
    expect(parseXorrisoReport(text)).toEqual({
      elTorito: [
        { platform: 'BIOS', bootable: true, emulation: 'none' },
        { platform: 'UEFI', bootable: true, emulation: 'none' },
      ],
      systemArea: 'MBR protective-msdos-label grub2-mbr cyl-align-off GPT',
    });
    expect(parseXorrisoReport('no boot record')).toEqual({ elTorito: [] });
  });
});
