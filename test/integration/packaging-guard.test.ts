/**
 * The guard plugin (tools/serverless/guard-plugin.js) checks the compiled template, so a
 * mapping that bypasses the `stream` event settings is refused too: a `stream` event given as
 * a bare ARN, a raw AWS::Lambda::EventSourceMapping in `resources`, and a generated mapping
 * changed through `resources.extensions`; and `deploy --package` of a saved package whose
 * template was edited after packaging. Each package case packages a copy of the service whose
 * serverless.yml has one such addition (the code is linked, not copied).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, sls } from '../support/serverless-package';

jest.setTimeout(300_000);

const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-guard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const YML = readFileSync(path.join(ROOT, 'serverless.yml'), 'utf-8');

/** A service directory with serverless.yml changed by `edit`, the rest linked to the checkout. */
function service(name: string, edit: (yml: string) => string): string {
  const svc = path.join(dir, name);
  const yml = edit(YML);
  expect(yml).not.toBe(YML);
  mkdirSync(svc);
  for (const entry of [
    'deploy',
    'tools',
    'functions',
    'lib',
    'node_modules',
    'package.json',
    'tsconfig.json',
  ])
    symlinkSync(path.join(ROOT, entry), path.join(svc, entry));
  writeFileSync(path.join(svc, 'serverless.yml'), yml);
  return svc;
}

/** `resources` is the last key of serverless.yml: one more list item goes at the end. */
const appendResources = (item: string) => (yml: string) => `${yml.trimEnd()}\n${item}`;

async function refusal(svc: string): Promise<string> {
  const result = await sls(['package', '--stage', 'dev', '--package', path.join(svc, '.out')], svc);
  expect(result.output).not.toContain('Service packaged');
  expect(result.code).not.toBe(0);
  expect(result.output).toContain('taxi-stream guard refused the configuration');
  return result.output;
}

describe('the guard refuses mappings the commit protocol cannot keep exactly-once', () => {
  it('in a stream event given as a bare ARN (no partial batch response, no on-failure destination)', async () => {
    const svc = service('bare-arn', (yml) =>
      yml.replace(
        'functions:\n',
        `functions:
  - rogueSink:
      handler: functions/lake-sink.handler
      role: LakeSinkRole
      events:
        - stream: arn:aws:kinesis:us-east-1:123456789012:stream/other-trips
`,
      ),
    );
    const output = await refusal(svc);
    expect(output).toContain(
      'RogueSinkEventSourceMappingKinesisOthertrips: FunctionResponseTypes must include ReportBatchItemFailures',
    );
    expect(output).toContain(
      'RogueSinkEventSourceMappingKinesisOthertrips: needs an on-failure destination (DestinationConfig.OnFailure)',
    );
  });

  it('in a raw AWS::Lambda::EventSourceMapping under resources', async () => {
    const svc = service(
      'raw-resource',
      appendResources(`  - Resources:
      ExtraMapping:
        Type: AWS::Lambda::EventSourceMapping
        Properties:
          FunctionName: !Ref LakeSinkLambdaFunction
          EventSourceArn: !GetAtt TripStream.Arn
          StartingPosition: LATEST
          ParallelizationFactor: 4
          FunctionResponseTypes: [ReportBatchItemFailures]
          DestinationConfig: { OnFailure: { Destination: !GetAtt MappingFailureBucket.Arn } }
`),
    );
    const output = await refusal(svc);
    expect(output).toContain(
      'ExtraMapping: ParallelizationFactor is 4; the per-shard commit protocol needs 1 (add shards instead)',
    );
    expect(output).not.toMatch(/EventSourceMappingKinesisTripStream:/);
  });

  it('in a generated mapping changed through resources.extensions', async () => {
    const svc = service(
      'extensions',
      appendResources(`  - extensions:
      SearchSinkEventSourceMappingKinesisTripStream:
        Properties:
          ParallelizationFactor: 2
          TumblingWindowInSeconds: 60
`),
    );
    const output = await refusal(svc);
    expect(output).toContain(
      'SearchSinkEventSourceMappingKinesisTripStream: ParallelizationFactor is 2; the per-shard commit protocol needs 1',
    );
    expect(output).toContain(
      'SearchSinkEventSourceMappingKinesisTripStream: tumbling windows are not supported (TumblingWindowInSeconds)',
    );
  });

  it('in a saved package whose template was edited, at deploy --package, before any AWS call', async () => {
    const out = path.join(dir, 'saved');
    const packaged = await sls(['package', '--stage', 'dev', '--package', out]);
    expect(packaged.output).toContain('Service packaged');
    const statePath = path.join(out, 'serverless-state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf-8'));
    const template = state.service.provider.compiledCloudFormationTemplate;
    template.Resources.LakeSinkEventSourceMappingKinesisTripStream.Properties.ParallelizationFactor = 3;
    writeFileSync(statePath, JSON.stringify(state));
    // No credentials anywhere (sls clears them): the refusal must come before the first call.
    const result = await sls(['deploy', '--stage', 'dev', '--package', out]);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(
      'LakeSinkEventSourceMappingKinesisTripStream: ParallelizationFactor is 3; the per-shard commit protocol needs 1',
    );
    expect(result.output).not.toMatch(/credentials/i);
  });
});
