/**
 * `npm run soak` end to end, small: its own local services, trips streamed through the local
 * Kinesis runner into the lake sink, memory and handles sampled, every record reconciled.
 * The million-record run is for a person to start (see tools/soak/cli.ts --help).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startCli, within } from '../support/cli-run';
import { descendants, isRunning } from '../support/process-tree';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

describe('npm run soak', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'taxi-soak-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('streams trips through the lake sink, reconciles every record and leaks no handle', async () => {
    const { stdout } = await promisify(execFile)(
      TSX,
      [
        'tools/soak/cli.ts',
        '--records',
        '3000',
        '--poison-rate',
        '0.05',
        '--sample-s',
        '0.5',
        '--json',
        '--out',
        out,
      ],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
      reconciled: boolean;
      inputRecords: number;
      lakeRows: number;
      deadLetters: number;
      watermarks: number;
      reconciliation: Record<string, number>;
      memory: { start: { rssMib: number }; end: { heapMib: number }; gcForced: boolean; ok: boolean };
      handles: { leaked: string[]; ok: boolean };
      windows: unknown[];
    };
    expect(stdout).toContain('RECONCILED');
    expect(summary.reconciled).toBe(true);
    expect(summary.inputRecords).toBe(3003);
    expect(summary.lakeRows + summary.deadLetters + summary.watermarks).toBe(3003);
    expect(summary.deadLetters).toBeGreaterThan(0);
    expect(summary.reconciliation).toMatchObject({
      missing: 0,
      duplicatesInLake: 0,
      inBoth: 0,
      unexpected: 0,
    });
    expect(summary.handles).toEqual({ ...summary.handles, leaked: [], ok: true });
    expect(summary.memory).toMatchObject({ gcForced: true, ok: true });
    expect(summary.memory.end.heapMib).toBeGreaterThan(0);
    expect(summary.windows.length).toBeGreaterThan(0);
    expect(existsSync(path.join(out, 'soak.json'))).toBe(true);
  });

  it('stops at once, naming it, when a local service dies under it', async () => {
    const dir = path.join(out, 'died');
    // A million records: only the death can end this run within the test's time.
    const run = startCli(
      TSX,
      ['tools/soak/cli.ts', '--records', '1000000', '--sample-s', '0.5', '--window-s', '1', '--out', dir],
      { cwd: ROOT },
    );
    try {
      await run.waitFor(/s: published [\d,]+, lake [1-9]/, 60_000);
      const started = descendants(run.pid);
      const ledger = started.find((p) => p.args.includes('serve.mjs dynamodb'));
      expect(ledger).toBeDefined();
      process.kill(ledger?.pid as number, 'SIGTERM');
      const exit = await within(run.exited, 15_000);
      expect(exit).not.toBe('pending');
      expect(exit).toMatchObject({ code: 4 });
      expect(run.stderr()).toContain(
        `local service dynamodb (pid ${ledger?.pid}) exited unexpectedly: signal SIGTERM; its log: ${path.join(dir, 'logs', 'dynamodb.log')}`,
      );
      expect(run.stderr()).toMatch(
        /soak stopped at once, [\d.]+ s in, after the lake sink took [\d,]+ records/,
      );
      expect(started.filter((p) => isRunning(p.pid))).toEqual([]);
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGINT');
      await run.exited;
    }
  });
});
