import type { LakeRow } from '../../../lib/lake/lake-row';
import { LAKE_COLUMNS } from '../../../lib/lake/schema';

describe('lake schema', () => {
  it('gives every column a getter that reads that very column', () => {
    const row = Object.fromEntries(
      LAKE_COLUMNS.map((c) => [c.name, `value of ${c.name}`]),
    ) as unknown as LakeRow;
    expect(LAKE_COLUMNS.map((c) => c.get(row))).toEqual(LAKE_COLUMNS.map((c) => `value of ${c.name}`));
    expect(new Set(LAKE_COLUMNS.map((c) => c.name)).size).toBe(LAKE_COLUMNS.length);
  });
});
