import type { ResolvedEntry } from '../../../lib/lake/iceberg/manifests';
import { planGroups } from '../../../lib/pipeline/table-compactor';

const file = (name: string, bytes: number): ResolvedEntry => ({
  snapshotId: 1n,
  dataSequenceNumber: 1n,
  fileSequenceNumber: 1n,
  dataFile: {
    file_path: `s3://lake/t/data/pickup_datetime_day=2018-01-01/${name}.parquet`,
    file_size_in_bytes: BigInt(bytes),
    record_count: 1n,
    partition: { pickup_datetime_day: 17532 },
  },
});

const names = (groups: ResolvedEntry[][]) =>
  groups.map((g) => g.map((e) => String(e.dataFile.file_path).split('/').pop()?.replace('.parquet', '')));

describe('planGroups', () => {
  it('bin-packs small files into groups of at most the target, leaves large files and lone files alone', () => {
    const target = 100;
    const groups = planGroups(
      [file('a', 40), file('b', 30), file('c', 45), file('d', 20), file('big', 60), file('e', 10)],
      target,
    );
    // First fit, largest first: c 45 + a 40 + d... (45+40=85, +30 > 100, +20 > 100, +10 = 95), then b 30 + d 20.
    expect(names(groups)).toEqual([
      ['a', 'c', 'e'],
      ['b', 'd'],
    ]);
    for (const g of groups) {
      expect(g.reduce((n, e) => n + Number(e.dataFile.file_size_in_bytes), 0)).toBeLessThanOrEqual(target);
    }
    // One small file alone is not worth a rewrite.
    expect(planGroups([file('a', 10), file('big', 90)], target)).toEqual([]);
  });
});
