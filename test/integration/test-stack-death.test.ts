/**
 * A service of the integration tests' own stack dies mid-run: the run ends at once with a
 * message naming it, instead of every test left waiting out its timeout against a closed
 * port. A nested Jest run on the real global setup (one emulator, tests that would wait two
 * minutes) is stopped under, once with the tests in Jest's own process (what two cores get)
 * and once in worker processes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCli, within } from '../support/cli-run';
import { descendants, isRunning } from '../support/process-tree';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..');
const JEST = path.join(ROOT, 'node_modules', '.bin', 'jest');
const CONFIG = path.join(ROOT, 'test', 'fixtures', 'service-death', 'jest.config.js');

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('the test stack', () => {
  it.each([
    // One test at a time: whichever Jest picks first.
    ['in Jest’s own process', ['--runInBand'], 1],
    ['in worker processes', ['--maxWorkers=2'], 2],
  ])(
    'ends the run at once when one of its services dies, tests running %s',
    async (_mode, flags, running) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-stack-death-'));
      const run = startCli(JEST, ['--config', CONFIG, '--ci', ...flags], {
        cwd: ROOT,
        env: { ...process.env, SERVICE_DEATH_DIR: dir },
      });
      let testPids: number[] = [];
      try {
        const markers = ['first', 'second'].map((t) => path.join(dir, `${t}.started`));
        const started = () => markers.filter((m) => existsSync(m));
        expect(await until(() => started().length >= running, 90_000)).toBe(true);
        testPids = started().map((m) => Number(readFileSync(m, 'utf8')));
        // The tests ran where this case says: in Jest's process, or in others.
        expect(testPids.includes(run.pid)).toBe(running === 1);
        const emulator = descendants(run.pid).find((p) => p.args.includes('serve.mjs kinesis'));
        expect(emulator).toBeDefined();
        const killedAt = Date.now();
        process.kill(emulator?.pid as number, 'SIGTERM');

        const exit = await within(run.exited, 15_000);
        expect(exit).not.toBe('pending');
        expect(exit).toMatchObject({ code: 1 });
        expect((exit as { at: number }).at - killedAt).toBeLessThan(15_000);
        expect(run.stderr()).toContain(
          `local service kinesis (pid ${emulator?.pid}) exited unexpectedly: signal SIGTERM; its log: ${path.join(dir, 'logs', 'kinesis.log')}`,
        );
        expect(run.stderr()).toContain('The integration tests need it: stopping the other local services');
        // Nothing of the run is left: not the processes the tests ran in.
        expect(await until(() => !testPids.some(isRunning), 5_000)).toBe(true);
      } finally {
        if (run.child.exitCode === null && run.child.signalCode === null) {
          for (const p of descendants(run.pid)) process.kill(p.pid, 'SIGKILL');
          run.child.kill('SIGKILL');
        }
        await run.exited;
        // Workers left behind by a run that did not end them (they would wait two minutes).
        for (const pid of testPids) if (pid !== run.pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
