/**
 * The bundled handlers on the Node major of the Lambda runtime (serverless.yml
 * `provider.runtime`, nodejs24.x), against the test stack's services: the Node 24 binary runs
 * `serverless invoke local`, which bundles each function with esbuild as `serverless package`
 * does (target node24) and invokes the bundle in that process. A missing binary fails these
 * tests with the way to get it (tools/serverless/lambda-node.ts); it never skips them.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@opensearch-project/opensearch';
import { lambdaNodeBinary, lambdaRuntimeMajor } from '../../tools/serverless/lambda-node';
import {
  drainDeadLetters,
  type LocalPipeline,
  newLocalPipeline,
  readLakeRows,
} from '../support/local-pipeline';
import { sampleEventOutcomes } from '../support/sample-events';
import { countsByIndex } from '../support/search';

jest.setTimeout(300_000);

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const SERVERLESS = path.join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');

const expected = sampleEventOutcomes;

describe('the bundled handlers on the Lambda runtime Node', () => {
  let node: string;
  let pipeline: LocalPipeline;
  let env: Record<string, string>;
  const prefix = `node${process.pid}x${Date.now().toString(36)}`;

  beforeAll(async () => {
    node = lambdaNodeBinary();
    pipeline = await newLocalPipeline('lambda-runtime');
    env = { ...pipeline.env, SEARCH_INDEX_TEMPLATE: `${prefix}-trips-{service}-{pickup_datetime:yyyy.MM}` };
  });

  async function invoke(fn: string, file: string): Promise<{ batchItemFailures: unknown[] }> {
    const { stdout } = await run(
      node,
      [SERVERLESS, 'invoke', 'local', '--stage', 'local', '-f', fn, '-p', `events/${file}`],
      { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
    );
    // Logs (one JSON object per line) come first; the response is printed last, indented.
    const start = stdout.lastIndexOf('{\n');
    expect(start).toBeGreaterThanOrEqual(0);
    return JSON.parse(stdout.slice(start));
  }

  it('uses a binary of the runtime major serverless.yml deploys to', async () => {
    const { stdout } = await run(node, ['-p', 'process.versions.node']);
    expect(Number(stdout.split('.')[0])).toBe(lambdaRuntimeMajor());
    expect(lambdaRuntimeMajor()).toBe(24);
  });

  it('runs the lake sink on Kinesis and MSK events: trips in the lake, poison in the dead letters', async () => {
    const mixed = expected('kinesis-mixed-poison.json');
    const msk = expected('msk-trips.json');
    expect(mixed.poison).toBeGreaterThan(0);

    expect(await invoke('lakeSink', 'kinesis-mixed-poison.json')).toEqual({ batchItemFailures: [] });
    expect(await invoke('lakeSink', 'msk-trips.json')).toEqual({ batchItemFailures: [] });

    const { rows } = await readLakeRows(pipeline);
    expect(rows).toHaveLength(mixed.trips + msk.trips);
    expect(new Set(rows.map((r) => `${r.source_kind}`))).toEqual(new Set(['kinesis', 'kafka']));
    expect(await drainDeadLetters(pipeline)).toHaveLength(mixed.poison);
  });

  it('runs the search sink on a Kinesis event: every trip indexed', async () => {
    const sample = expected('kinesis-valid-trips.json');
    expect(await invoke('searchSink', 'kinesis-valid-trips.json')).toEqual({ batchItemFailures: [] });
    const counts = await countsByIndex(new Client({ node: env.SEARCH_ENDPOINT as string }), prefix);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(sample.trips);
  });
});
