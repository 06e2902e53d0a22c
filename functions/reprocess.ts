/**
 * Reprocess, on demand: `{"from": "<ISO time>", "to": "<ISO time>", "source"?: "kinesis"|"kafka",
 * "stream"?: "<name>"}` -> the archived records of that arrival range replace their rows of the
 * Iceberg table in one overwrite snapshot (docs/recovery.md). Invoked by an operator
 * (`aws lambda invoke`), never by a mapping; a failed run is simply run again.
 */
import type { Context } from 'aws-lambda';
import { loadReprocessConfig } from '../lib/config';
import { createTelemetry } from '../lib/observability/telemetry';
import { parseReprocessRequest } from '../lib/pipeline/reprocess-request';
import type { ReprocessReport } from '../lib/pipeline/table-reprocessor';
import { createTableReprocessor } from '../lib/wiring/reprocess';

const config = loadReprocessConfig();
const { logger } = createTelemetry('taxi-stream-reprocess');
const reprocessorReady = createTableReprocessor(config);
// A failed setup is not kept: the next invocation builds it again.
reprocessorReady.catch(() => undefined);

export async function handler(
  event: unknown,
  context: Context,
): Promise<Omit<ReprocessReport, 'snapshotId'> & { snapshotId: string | null }> {
  const range = parseReprocessRequest(event);
  const reprocessor = await reprocessorReady.catch(() => createTableReprocessor(config));
  const report = await reprocessor.run(range, { remainingMs: () => context.getRemainingTimeInMillis() });
  const out = { ...report, snapshotId: report.snapshotId?.toString() ?? null };
  logger.info('reprocess', { range, ...out });
  return out;
}
