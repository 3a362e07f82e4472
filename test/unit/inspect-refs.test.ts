// probeImage on hand-made headers: the cases qemu-img does not make on request.
import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeImage } from '../../src/diskimage/refs.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-inspect-refs-');

/** A qcow2 version 3 header of 112 bytes, then the given header extensions and the end marker. */
function qcow2(o: { incompatible?: bigint; backing?: string; extensions?: [number, Buffer][] } = {}): Buffer {
  const head = Buffer.alloc(4096);
  head.write('QFI\xfb', 0, 'latin1');
  head.writeUInt32BE(3, 4);
  head.writeUInt32BE(16, 20);
  head.writeBigUInt64BE(o.incompatible ?? 0n, 72);
  head.writeUInt32BE(112, 100);
  let at = 112;
  for (const [type, data] of o.extensions ?? []) {
    head.writeUInt32BE(type, at);
    head.writeUInt32BE(data.length, at + 4);
    data.copy(head, at + 8);
    at += 8 + Math.ceil(data.length / 8) * 8;
  }
  if (o.backing) {
    head.writeBigUInt64BE(2048n, 8);
    head.writeUInt32BE(o.backing.length, 16);
    head.write(o.backing, 2048);
  }
  return head;
}

/** A sparse VMDK header whose embedded descriptor (at sector 1) is `descriptor`. */
function sparseVmdk(capacity: bigint, descriptor: string): Buffer {
  const file = Buffer.alloc(4096);
  file.write('KDMV', 0, 'latin1');
  file.writeUInt32LE(1, 4);
  file.writeBigUInt64LE(capacity, 12);
  file.writeBigUInt64LE(128n, 20);
  file.writeBigUInt64LE(1n, 28);
  file.writeBigUInt64LE(2n, 36);
  file.write(descriptor, 512, 'latin1');
  return file;
}

const DESCRIPTOR = '# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="monolithicSparse"\nRW 2048 SPARSE "/etc/shadow"\n';

/** A VHD footer of disk type `type` (2 fixed, 3 dynamic, 4 differencing). */
function vhdFooter(type: number): Buffer {
  const f = Buffer.alloc(512);
  f.write('conectix', 0, 'latin1');
  f.writeUInt32BE(type, 60);
  return f;
}

describe('probeImage', () => {
  it.each<[string, Buffer, { format: string; refs: string[] }]>([
    ['a plain qcow2', qcow2(), { format: 'qcow2', refs: [] }],
    ['a qcow2 with a backing file', qcow2({ backing: '/srv/base.qcow2' }), { format: 'qcow2', refs: ['backing file /srv/base.qcow2'] }],
    [
      'a qcow2 with a data file extension',
      qcow2({
        incompatible: 4n,
        extensions: [
          [0xe2792aca, Buffer.from('qcow2')],
          [0x44415441, Buffer.from('/etc/shadow')],
        ],
      }),
      { format: 'qcow2', refs: ['external data file /etc/shadow'] },
    ],
    [
      'a qcow2 with the data file bit but no name',
      qcow2({ incompatible: 4n }),
      { format: 'qcow2', refs: ['external data file (named when the image is opened)'] },
    ],
    [
      'a sparse vmdk with no capacity of its own (its descriptor gives the extents)',
      sparseVmdk(0n, DESCRIPTOR),
      { format: 'vmdk', refs: ['extent /etc/shadow'] },
    ],
    ['a sparse vmdk with a capacity (its extent line is not followed)', sparseVmdk(2048n, DESCRIPTOR), { format: 'vmdk', refs: [] }],
    [
      'a sparse vmdk naming a parent',
      sparseVmdk(2048n, `${DESCRIPTOR}parentFileNameHint="/srv/base.vmdk"\n`),
      { format: 'vmdk', refs: ['parent /srv/base.vmdk'] },
    ],
    [
      'a text descriptor with comments and CRLF line ends',
      Buffer.from('# Disk DescriptorFile\r\n\r\nversion=1\r\nRW 8 FLAT "/dev/sda" 0\r\n'),
      { format: 'vmdk', refs: ['extent /dev/sda'] },
    ],
    ['a dynamic VHD', Buffer.concat([vhdFooter(3), Buffer.alloc(1024)]), { format: 'vpc', refs: [] }],
    ['a differencing VHD', Buffer.concat([vhdFooter(4), Buffer.alloc(1024)]), { format: 'vpc', refs: ['parent disk (a differencing VHD)'] }],
    ['a fixed VHD (footer at the end)', Buffer.concat([Buffer.alloc(4096), vhdFooter(2)]), { format: 'vpc', refs: [] }],
    ['a vhdx', Buffer.concat([Buffer.from('vhdxfile'), Buffer.alloc(1024)]), { format: 'vhdx', refs: [] }],
    ['anything else (read as raw, never probed)', Buffer.from('QED\0 and more'), { format: 'raw', refs: [] }],
  ])('reads %s', async (_what, bytes, expected) => {
    const file = path.join(await tempDir(), 'image');
    await writeFile(file, bytes);
    expect(await probeImage(file)).toMatchObject(expected);
  });

  it('reads the image a symbolic link names', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'real'), qcow2({ backing: 'base.qcow2' }));
    await symlink(path.join(dir, 'real'), path.join(dir, 'link'));
    expect(await probeImage(path.join(dir, 'link'))).toEqual({ format: 'qcow2', refs: ['backing file base.qcow2'] });
  });
});
