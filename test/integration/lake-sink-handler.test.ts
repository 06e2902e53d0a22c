/**
 * The deployed entry point, functions/lake-sink.handler, loaded the way Lambda loads it
 * (configuration from the environment at cold start) against the local services: it
 * returns the partial batch response, logs one summary line and emits EMF metrics.
 */
import type { Context } from 'aws-lambda';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import { lambdaContext, type StreamHandler } from '../support/lambda-context';
import { drainDeadLetters, newLocalPipeline, readLakeRows } from '../support/local-pipeline';
import { payload, tripEvent } from '../support/trip-events';

jest.setTimeout(60_000);

const context = (remainingMs: number): Context => lambdaContext(remainingMs);
type Handler = StreamHandler;

async function loadHandler(env: Record<string, string>): Promise<Handler> {
  Object.assign(
    process.env,
    {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
      AWS_LAMBDA_FUNCTION_NAME: 'taxi-stream-dev-lakeSink',
      AWS_LAMBDA_FUNCTION_VERSION: '3',
    },
    env,
  );
  let handler: Handler | undefined;
  // A fresh module registry is a fresh cold start: config is read at module load.
  jest.isolateModules(() => {
    handler = (require('../../functions/lake-sink') as { handler: Handler }).handler;
  });
  return handler as Handler;
}

describe('functions/lake-sink handler', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    jest.restoreAllMocks();
  });

  it('handles a batch end to end and reports it in one log line and EMF metrics', async () => {
    const pipeline = await newLocalPipeline('handler');
    const handler = await loadHandler(pipeline.env);
    const lines: string[] = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const payloads = [
      payload(tripEvent({ trip_id: 1 })),
      payload('{"type":"trip"'),
      payload({ type: 'watermark', watermark: '2018-01-05T13:00:00Z' }),
      payload(
        tripEvent({
          trip_id: 2,
          pickup_datetime: '2018-01-05T14:04:05Z',
          dropoff_datetime: '2018-01-05T14:20:00Z',
        }),
      ),
    ];
    const event = kinesisEvent(shardRecords(payloads, { arrivalTimeMs: Date.now() - 5_000 }));
    const response = await handler(event, context(60_000));
    jest.restoreAllMocks();

    expect(response).toEqual({ batchItemFailures: [] });
    const json = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const summary = json.find((j) => j.message === 'lake batch');
    expect(summary).toMatchObject({
      level: 'INFO',
      service: 'taxi-stream-lake-sink',
      recordsIn: 4,
      tripsValid: 2,
      poisonRecords: 1,
      watermarks: 1,
      duplicatesSkipped: 0,
      parquetObjects: 2,
      parquetRowsCommitted: 2,
      batchItemFailures: 0,
    });
    expect(summary.arrivalLagMs).toBeGreaterThanOrEqual(5_000);
    const emf = json.find((j) => j._aws?.CloudWatchMetrics);
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('TaxiStream');
    const names = emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
    expect(names).toEqual(
      expect.arrayContaining([
        'RecordsIn',
        'TripsValid',
        'PoisonRecords',
        'Watermarks',
        'DuplicatesSkipped',
        'BatchesBehindHead',
        'ParquetObjects',
        'ParquetRowsCommitted',
        'ParquetBytesCommitted',
        'CommitConflicts',
        'BatchDurationMs',
        'ArrivalLagMs',
        'EventTimeLagMs',
        'WatermarkLagMs',
      ]),
    );
    expect(emf.TripsValid).toBe(2);
    expect(emf.PoisonRecords).toBe(1);

    expect((await readLakeRows(pipeline)).rows).toHaveLength(2);
    const letters = await drainDeadLetters(pipeline);
    expect(letters.map((l) => [l.reason.errorClass, l.function])).toEqual([
      ['NotJsonError', { functionName: 'taxi-stream-dev-lakeSink', functionVersion: '3' }],
    ]);
  });

  it('reports the first record as failed when the deadline leaves no room, and does nothing', async () => {
    const pipeline = await newLocalPipeline('handler-deadline');
    const handler = await loadHandler({
      ...pipeline.env,
      DEADLINE_MARGIN_MS: '5000',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const records = shardRecords([payload(tripEvent())]);
    const response = await handler(kinesisEvent(records), context(1_000));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: records[0]?.kinesis.sequenceNumber }] });
    expect((await readLakeRows(pipeline)).rows).toHaveLength(0);
  });

  it('fails the cold start with a message naming a missing variable', async () => {
    const pipeline = await newLocalPipeline('handler-config');
    const env = { ...pipeline.env };
    delete (env as Record<string, string | undefined>).LEDGER_TABLE;
    delete process.env.LEDGER_TABLE;
    await expect(loadHandler(env)).rejects.toThrow('LEDGER_TABLE: is required');
  });
});
