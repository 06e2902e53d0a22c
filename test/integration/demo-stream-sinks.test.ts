/**
 * `npm run demo -- --sinks lake,search,kafka,kinesis`: the stream sinks behind their own mappings,
 * from both sources, and the reconciliation of their outputs against the lake (a read_committed
 * consumer of the topic, a reader of the stream).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(300_000);

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

describe('npm run demo -- --sinks', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'taxi-demo-sinks-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('counts the Kafka topic (each trip once) and the Kinesis stream (each record ID once) against the lake', async () => {
    const { stdout } = await run(
      TSX,
      [
        'tools/demo/cli.ts',
        '--records',
        '2000',
        '--source',
        'both',
        '--sinks',
        'lake,search,kafka,kinesis',
        '--lake',
        'prefix',
        '--out',
        out,
        '--json',
      ],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
    );
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({
      reconciled: true,
      sinks: ['lake', 'search', 'kafka', 'kinesis'],
      sources: ['kinesis', 'kafka'],
      kafkaOutDuplicates: 0,
    });
    // Each valid trip once per source, as in the lake.
    expect(summary.kafkaOutRecords).toBe(summary.validRecords);
    expect(summary.kinesisOutDistinct).toBe(summary.validRecords);
    expect(summary.kinesisOutRecords).toBeGreaterThanOrEqual(summary.validRecords as number);
    expect(stdout).toMatch(/Stream sinks: kafka \d+ records .*each trip of the lake once/);
  });

  it("keeps today's sinks by default and refuses a list without the lake", async () => {
    const refused = await run(TSX, ['tools/demo/cli.ts', '--sinks', 'kafka'], { cwd: ROOT }).catch(
      (e: { code?: number; stderr?: string }) => e,
    );
    expect((refused as { code?: number }).code).toBe(1);
    expect((refused as { stderr?: string }).stderr).toContain('--sinks must keep lake and search');
  });
});
