/**
 * `npx serverless invoke local --stage local -f <function> -p events/<file>.json` runs the
 * bundled handlers against the local services and prints the batch response (docs/deploy.md,
 * "Sample events and local invocation"). The services are the test stack's; the shell environment points the
 * local stage at them, as `.local/stack.env` does after `npm run local`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@opensearch-project/opensearch';
import { decodeArchive } from '../../lib/archive/raw-archive-format';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { LOCAL_RESOURCES } from '../../tools/local-stack/defaults';
import { createLedgerTable } from '../../tools/local-stack/local-stack';
import {
  drainDeadLetters,
  getObject,
  type LocalPipeline,
  listKeys,
  newLocalPipeline,
  readLakeRows,
} from '../support/local-pipeline';
import { sampleEventOutcomes } from '../support/sample-events';
import { countsByIndex } from '../support/search';

jest.setTimeout(300_000);

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const SERVERLESS = path.join(ROOT, 'node_modules', '.bin', 'serverless');

const expected = sampleEventOutcomes;

async function invokeLocal(
  fn: string,
  file: string,
  env: Record<string, string>,
): Promise<{ batchItemFailures: unknown[] }> {
  const { stdout } = await run(
    SERVERLESS,
    ['invoke', 'local', '--stage', 'local', '-f', fn, '-p', `events/${file}`],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  // Logs (one JSON object per line) come first; the response is printed last, indented.
  const start = stdout.lastIndexOf('{\n');
  expect(start).toBeGreaterThanOrEqual(0);
  return JSON.parse(stdout.slice(start));
}

describe('serverless invoke local --stage local', () => {
  let pipeline: LocalPipeline;
  const prefix = `invoke${process.pid}x${Date.now().toString(36)}`;
  let env: Record<string, string>;

  beforeAll(async () => {
    pipeline = await newLocalPipeline('invoke-local');
    env = { ...pipeline.env, SEARCH_INDEX_TEMPLATE: `${prefix}-trips-{service}-{pickup_datetime:yyyy.MM}` };
  });

  it('runs the lake sink on the mixed-poison Kinesis and the MSK sample events', async () => {
    const mixed = expected('kinesis-mixed-poison.json');
    const msk = expected('msk-trips.json');
    expect(mixed.poison).toBeGreaterThan(0);

    expect(await invokeLocal('lakeSink', 'kinesis-mixed-poison.json', env)).toEqual({
      batchItemFailures: [],
    });
    expect(await invokeLocal('lakeSink', 'msk-trips.json', env)).toEqual({ batchItemFailures: [] });
    // Invoking again is a redelivery: the ledger skips what is committed.
    expect(await invokeLocal('lakeSink', 'msk-trips.json', env)).toEqual({ batchItemFailures: [] });

    const { rows } = await readLakeRows(pipeline);
    expect(rows).toHaveLength(mixed.trips + msk.trips);
    expect(new Set(rows.map((r) => `${r.source_kind}`))).toEqual(new Set(['kinesis', 'kafka']));
    const deadLetters = await drainDeadLetters(pipeline);
    expect(deadLetters).toHaveLength(mixed.poison);
  });

  it('runs the search sink on the self-managed Kafka sample event', async () => {
    const sample = expected('self-managed-kafka-trips.json');
    expect(await invokeLocal('searchSink', 'self-managed-kafka-trips.json', env)).toEqual({
      batchItemFailures: [],
    });
    const counts = await countsByIndex(new Client({ node: env.SEARCH_ENDPOINT as string }), prefix);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(sample.trips);
  });

  it('runs the raw archive on the mixed-poison Kinesis sample event: every record once, byte-exact, through its own ledger', async () => {
    // The local stage points it at npm run local's archive ledger table (deploy/stack.js).
    await createLedgerTable(pipeline.clients, LOCAL_RESOURCES.archiveLedgerTable);
    const archiveEnv = { ...env };
    expect(archiveEnv.ARCHIVE_LEDGER_TABLE ?? process.env.ARCHIVE_LEDGER_TABLE).toBeUndefined();
    const file = 'kinesis-mixed-poison.json';
    const sent = decodeSourceEvent(JSON.parse(readFileSync(path.join(ROOT, 'events', file), 'utf-8')));
    expect(await invokeLocal('rawArchive', file, archiveEnv)).toEqual({ batchItemFailures: [] });
    // Invoking again is a redelivery: the archive's ledger skips what is committed.
    expect(await invokeLocal('rawArchive', file, archiveEnv)).toEqual({ batchItemFailures: [] });

    const keys = await listKeys(pipeline, 'raw');
    expect(keys.length).toBeGreaterThan(0);
    const archived = (
      await Promise.all(keys.map(async (k) => decodeArchive(await getObject(pipeline, k))))
    ).flat();
    const lines = (records: typeof sent) =>
      records.map((r) => `${r.position} ${Buffer.from(r.payload).toString('base64')}`).sort();
    expect(lines(archived)).toEqual(lines(sent));
    expect(await listKeys(pipeline, 'staging/raw')).toEqual([]);
  });
});
