/**
 * `npm run demo -- --scenario reprocess` (docs/recovery.md): the lake and search sinks run with
 * a broken enrichment (the zone lookup left out, so every zone name is null) while the raw
 * archive keeps every record; after the drain, the whole range is reprocessed with the fixed
 * enrichment (one overwrite snapshot, the search documents updated in place), then once more
 * to show that a second run changes nothing. The reconciliation that follows reads the table
 * as usual (every valid trip once) and counts the zone names still missing.
 */

import { readFileSync } from 'node:fs';
import type { Client } from '@opensearch-project/opensearch';
import { loadReprocessConfig } from '../../lib/config';
import { parseZoneCsv } from '../../lib/domain/zones';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import type { ReprocessReport } from '../../lib/pipeline/table-reprocessor';
import { createTableReprocessor } from '../../lib/wiring/reprocess';
import { duckdbRows, lakeGlob } from './outputs';

export interface ReprocessScenario {
  readonly first: ReprocessReport;
  readonly second: ReprocessReport;
  readonly seconds: number;
}

/** Runs the fixed transform over the arrival range [fromMs, toMs), twice. */
export async function reprocessWithFix(
  env: Record<string, string | undefined>,
  zoneFile: string,
  range: { fromMs: number; toMs: number },
): Promise<ReprocessScenario> {
  const started = Date.now();
  const reprocessor = await createTableReprocessor(loadReprocessConfig({ ...env, ZONE_LOOKUP: zoneFile }));
  const first = await reprocessor.run(range, NO_DEADLINE);
  const seconds = (Date.now() - started) / 1000;
  const second = await reprocessor.run(range, NO_DEADLINE);
  return { first, second, seconds };
}

/** Lake rows and search documents whose pickup zone is known to the lookup but has no name. */
export async function zoneNamesMissing(
  lakeDir: string,
  zoneFile: string,
  search: Client,
  indexPattern: string,
): Promise<{ lake: number; search: number }> {
  const known = parseZoneCsv(readFileSync(zoneFile, 'utf-8'))
    .all()
    .map((z) => z.locationId);
  const [row] = await duckdbRows(
    `SELECT count(*) AS n FROM read_parquet('${lakeGlob(lakeDir)}', hive_partitioning = true)
      WHERE pickup_zone IS NULL AND pickup_location_id IN (${known.join(',')})`,
  );
  await search.indices.refresh({ index: indexPattern });
  const out = await search.count({
    index: indexPattern,
    body: {
      query: {
        bool: {
          must: [{ terms: { pickup_location_id: known } }],
          must_not: [{ exists: { field: 'pickup_zone' } }],
        },
      },
    },
  });
  return { lake: Number(row?.n ?? 0), search: Number((out.body as { count: number }).count) };
}
