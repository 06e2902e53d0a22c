import { gunzipSync, gzipSync } from 'node:zlib';
import {
  archiveLine,
  archivePartition,
  archivePartitionHourMs,
  decodeArchive,
  encodeArchive,
} from '../../../lib/archive/raw-archive-format';
import { ArchiveFormatError } from '../../../lib/errors';
import { makeChannel, type SourceRecord } from '../../../lib/sources/source-record';
import { payload, records, tripPayloads } from '../../support/trip-events';

const KAFKA = makeChannel('kafka', 'trips', '3', 'cluster-a');

describe('raw archive format', () => {
  it('round-trips every record byte-exact, with its coordinates, binary payloads included', () => {
    const binary = new Uint8Array([0, 255, 0xc3, 0x28, 10, 13, 34, 92]); // not UTF-8, has \n and "
    const batch: SourceRecord[] = [
      ...records([...tripPayloads(3), binary, payload('not json')]),
      ...records([payload({ any: 'thing' })], KAFKA, 7).map((r) => ({ ...r, partitionKey: null })),
    ];
    const decoded = decodeArchive(encodeArchive(batch));
    expect(decoded.map((r) => [r.channel.id, r.position, r.arrivalTimeMs, r.partitionKey])).toEqual(
      batch.map((r) => [r.channel.id, r.position, r.arrivalTimeMs, r.partitionKey]),
    );
    decoded.forEach((r, i) => {
      expect(Buffer.from(r.payload).equals(Buffer.from((batch[i] as SourceRecord).payload))).toBe(true);
      expect(r.offset).toBe((batch[i] as SourceRecord).offset);
    });
    expect(decoded[5]?.channel).toEqual(KAFKA);
  });

  it('is readable without our code: gzip, one JSON object per line, base64 payload', () => {
    const batch = records(tripPayloads(2));
    const lines = gunzipSync(encodeArchive(batch)).toString('utf-8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0] as string);
    expect(first).toEqual({
      v: 1,
      kind: 'kinesis',
      stream: 'taxi-trips',
      partition: 'shardId-000000000000',
      position: batch[0]?.position,
      arrivalTime: new Date(batch[0]?.arrivalTimeMs as number).toISOString(),
      partitionKey: batch[0]?.partitionKey,
      payload: Buffer.from(batch[0]?.payload as Uint8Array).toString('base64'),
    });
    expect(archiveLine(batch[1] as SourceRecord).payload).toBe(
      Buffer.from(batch[1]?.payload as Uint8Array).toString('base64'),
    );
  });

  it('writes the same bytes for the same records (a redelivery rewrites the same object)', () => {
    const batch = records(tripPayloads(20));
    expect(
      Buffer.from(encodeArchive(batch)).equals(Buffer.from(encodeArchive(records(tripPayloads(20))))),
    ).toBe(true);
  });

  it('partitions by arrival hour in UTC, unknown arrival apart', () => {
    const [r] = records([payload('x')]);
    const at = (ms: number) => archivePartition({ ...(r as SourceRecord), arrivalTimeMs: ms });
    expect(at(Date.parse('2026-11-30T23:59:59.999Z'))).toBe('arrival_hour=2026-11-30T23');
    expect(at(Date.parse('2026-12-01T00:00:00.000Z'))).toBe('arrival_hour=2026-12-01T00');
    expect(at(0)).toBe('arrival_hour=unknown');
    expect(archivePartitionHourMs('arrival_hour=2026-11-30T23')).toBe(Date.parse('2026-11-30T23:00:00Z'));
    expect(archivePartitionHourMs('arrival_hour=unknown')).toBeNull();
  });

  it('refuses an object that is not an archive of version 1, naming the line', () => {
    expect(() => decodeArchive(gzipSync('{"v":1,"position":"1"}\nnope\n'))).toThrow(ArchiveFormatError);
    expect(() => decodeArchive(gzipSync('{"v":2,"position":"1"}\n'))).toThrow(/line 1/);
    expect(() => decodeArchive(gzipSync('null\n'))).toThrow(ArchiveFormatError);
  });
});
