/**
 * `serverless package` works offline (no AWS credentials) and the deployment refuses what
 * the commit protocol cannot guarantee.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(180_000);

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const SERVERLESS = path.join(ROOT, 'node_modules', '.bin', 'serverless');

async function sls(args: string[]): Promise<{ code: number; output: string }> {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('AWS_') && k !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') delete env[k];
  try {
    const out = await run(SERVERLESS, args, { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: out.stdout + out.stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('serverless package (offline)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-pkg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('packages the lake sink with its Kinesis mapping settings and the Parquet WebAssembly', async () => {
    const out = path.join(dir, 'dev');
    const result = await sls(['package', '--stage', 'dev', '--package', out]);
    expect(result.output).toContain('Service packaged');
    expect(result.code).toBe(0);
    const template = JSON.parse(
      readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf-8'),
    );
    const resources = Object.values(template.Resources) as Array<{
      Type: string;
      Properties: Record<string, unknown>;
    }>;
    const mapping = resources.find((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(mapping?.Properties).toMatchObject({
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86400,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['MappingFailureQueue', 'Arn'] } } },
    });
    const fn = resources.find((r) => r.Type === 'AWS::Lambda::Function');
    expect(fn?.Properties).toMatchObject({ Runtime: 'nodejs20.x', Architectures: ['arm64'] });
    const { stdout } = await run('unzip', ['-l', path.join(out, 'lakeSink.zip')]);
    expect(stdout).toContain('functions/lake-sink.js');
    expect(stdout).toContain('functions/parquet_wasm_bg.wasm');
  });

  it('refuses ParallelizationFactor > 1', async () => {
    const result = await sls([
      'package',
      '--stage',
      'dev',
      '--package',
      path.join(dir, 'pf'),
      '--param=parallelizationFactor=2',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('parallelizationFactor is 2');
  });
});
