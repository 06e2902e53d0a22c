import { ledgerCommittedKeys, visibilityLags } from '../../../tools/demo/iceberg-lake';

const A = 'kinesis/trips/shardId-000000000000';
const B = 'kinesis/trips/shardId-000000000001';

/** A raw (DynamoDB JSON) ledger item as the demo's scan returns it. */
function history(channelId: string, commitNo: number, committedAt: string, keys: string[]) {
  return {
    pk: { S: channelId },
    sk: { S: `H#${commitNo}` },
    manifest: {
      S: JSON.stringify({ channelId, commitNo, committedAt, objects: keys.map((key) => ({ key })) }),
    },
  };
}

describe('visibilityLags', () => {
  it('measures each ledger commit to the first snapshot whose progress covers it', () => {
    const snapshots: Array<{ timestampMs: number; summary: Record<string, string> }> = [
      {
        timestampMs: Date.parse('2026-01-01T00:00:03Z'),
        summary: { 'taxi-stream.ledger-commits': JSON.stringify({ [A]: 3, [B]: 1 }) },
      },
      {
        timestampMs: Date.parse('2026-01-01T00:00:01Z'),
        summary: { 'taxi-stream.ledger-commits': JSON.stringify({ [A]: 1 }) },
      },
      // Another engine's snapshot (a compaction) carries no progress: never the one that made a commit visible.
      { timestampMs: Date.parse('2026-01-01T00:00:02Z'), summary: { operation: 'replace' } },
    ];
    const items = [
      history(A, 1, '2026-01-01T00:00:00.500Z', []),
      history(A, 2, '2026-01-01T00:00:01.500Z', []),
      history(A, 3, '2026-01-01T00:00:02.000Z', []),
      history(B, 1, '2026-01-01T00:00:00.000Z', []),
      // Not in any snapshot yet: left out.
      history(B, 2, '2026-01-01T00:00:03.500Z', []),
      { pk: { S: 'CHANNELS' }, sk: { S: A } },
    ];
    expect(visibilityLags(snapshots, items)).toEqual([500, 1500, 1000, 3000]);
  });
});

describe('ledgerCommittedKeys', () => {
  it('lists the data files of every history item and of each head’s last commit, once', () => {
    const head = {
      pk: { S: B },
      sk: { S: 'HEAD' },
      // The head's last commit before its history item is written.
      last: { S: JSON.stringify({ channelId: B, commitNo: 2, objects: [{ key: 'd/b2.parquet' }] }) },
    };
    const items = [
      history(A, 1, '', ['d/a1.parquet', 'd/a1b.parquet']),
      history(A, 2, '', ['d/a2.parquet']),
      head,
      history(B, 2, '', ['d/b2.parquet']),
    ];
    expect(ledgerCommittedKeys(items).sort()).toEqual([
      'd/a1.parquet',
      'd/a1b.parquet',
      'd/a2.parquet',
      'd/b2.parquet',
    ]);
  });
});
