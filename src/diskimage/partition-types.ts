// Partition types by the names templates use, with their GPT type GUIDs and
// MBR type bytes: what the disk stage writes and what image readers name.
// The table: GPT type GUID and MBR type byte ('' when
// the table type has no equivalent). Names follow the Discoverable Partitions
// Specification where it has one.
export const PARTITION_TYPES: Readonly<Record<string, { guid: string; mbr: string }>> = {
  esp: { guid: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', mbr: 'ef' },
  'bios-grub': { guid: '21686148-6449-6e6f-744e-656564454649', mbr: '' },
  linux: { guid: '0fc63daf-8483-4772-8e79-3d69d8477de4', mbr: '83' },
  'linux-root-amd64': { guid: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', mbr: '83' },
  'linux-root-arm64': { guid: 'b921b045-1df0-41c3-af44-4c6f280d3fae', mbr: '83' },
  'linux-root-x86': { guid: '44479540-f297-41b2-9af7-d131d5f0458a', mbr: '83' },
  'linux-usr-amd64': { guid: '8484680c-9521-48c6-9c11-b0720656f69e', mbr: '83' },
  'linux-usr-arm64': { guid: 'b0e01050-ee5f-4390-949a-9101b17104e9', mbr: '83' },
  'linux-home': { guid: '933ac7e1-2eb4-4f13-b844-0e14e2aef915', mbr: '83' },
  'linux-srv': { guid: '3b8f8425-20e0-4f3b-907f-1a25a76f98e8', mbr: '83' },
  'linux-var': { guid: '4d21b016-b534-45c2-a9fb-5c16e091fd2d', mbr: '83' },
  'linux-tmp': { guid: '7ec6f557-3bc5-4aca-b293-16ef5df639d1', mbr: '83' },
  xbootldr: { guid: 'bc13c2ff-59e6-4262-a352-b275fd6f7172', mbr: 'ea' },
  swap: { guid: '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f', mbr: '82' },
  'linux-lvm': { guid: 'e6d6d379-f507-44c2-a23c-238f2a3df928', mbr: '8e' },
  'linux-raid': { guid: 'a19d880f-05fc-4d3b-a006-743f0f84911e', mbr: 'fd' },
};
/** The template name of a partition type as a table records it (GPT type GUID or MBR type byte); the first name listed wins. */
export function partitionTypeName(table: 'gpt' | 'dos', code: string): string | undefined {
  const want = table === 'gpt' ? code.toLowerCase() : code.toLowerCase().replace(/^0x/, '').padStart(2, '0');
  return Object.entries(PARTITION_TYPES).find(([, t]) => (table === 'gpt' ? t.guid : t.mbr) === want)?.[0];
}
