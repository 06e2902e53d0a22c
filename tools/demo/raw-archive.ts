/**
 * The demo's view of the raw archive: every object under the archive prefix read back (it is
 * all committed: the archive stages and promotes), and checked against what the replay
 * landed in the stream: each landed record archived exactly once, byte-exact.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { decodeArchive } from '../../lib/archive/raw-archive-format';
import { mapLimit } from '../../lib/util/concurrency';
import type { LocalClients } from '../local-stack/local-stack';
import type { ReplayRecord } from '../replay/sources';
import { listLakeKeys } from './outputs';

export interface ArchiveCheck {
  readonly archiveObjects: number;
  readonly archiveBytes: number;
  readonly rawArchivedRecords: number;
  /** Landed records the archive holds more than once, or not at all, or with other bytes. */
  readonly archiveDuplicates: number;
  readonly archiveMissing: number;
  readonly archiveMismatched: number;
  readonly reconciled: boolean;
}

export async function checkRawArchive(
  clients: LocalClients,
  bucket: string,
  prefix: string,
  inputs: readonly ReplayRecord[],
  positions: ReadonlyArray<{ shardId: string; sequenceNumber: string }>,
): Promise<ArchiveCheck> {
  const keys = await listLakeKeys(clients, bucket, prefix);
  let bytes = 0;
  const archived = new Map<string, Uint8Array[]>();
  await mapLimit(keys, 16, async (key) => {
    const out = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
    bytes += body.byteLength;
    for (const r of decodeArchive(body)) {
      const k = `${r.channel.partition}/${r.position}`;
      const list = archived.get(k);
      if (list) list.push(r.payload);
      else archived.set(k, [r.payload]);
    }
  });
  let records = 0;
  for (const list of archived.values()) records += list.length;
  let duplicates = 0;
  let missing = 0;
  let mismatched = 0;
  inputs.forEach((input, i) => {
    const p = positions[i];
    const got = p ? archived.get(`${p.shardId}/${p.sequenceNumber}`) : undefined;
    if (!got) {
      missing++;
      return;
    }
    duplicates += got.length - 1;
    if (!Buffer.from(got[0] as Uint8Array).equals(Buffer.from(input.payload))) mismatched++;
  });
  return {
    archiveObjects: keys.length,
    archiveBytes: bytes,
    rawArchivedRecords: records,
    archiveDuplicates: duplicates,
    archiveMissing: missing,
    archiveMismatched: mismatched,
    reconciled: duplicates === 0 && missing === 0 && mismatched === 0 && records === inputs.length,
  };
}
