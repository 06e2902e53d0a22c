/**
 * A local service that dies is noticed: stopped from outside with a signal (as in the
 * incident, where the OpenSearch node got a stop signal a minute into a demo run), the
 * watcher names the service, the signal or exit code and the log file; `npm run local` then
 * says so and stops the rest. The stack's own stop() is no death.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildKafkaLauncher, startKafka } from '../../tools/kafka/kafka-broker';
import { type LocalStack, startLocalStack } from '../../tools/local-stack/local-stack';
import { ServiceDiedError } from '../../tools/local-stack/service-watch';
import { startCli, within } from '../support/cli-run';
import { descendants, isRunning } from '../support/process-tree';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('a local service that dies', () => {
  let dir: string;
  let stack: LocalStack | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-watch-'));
  });
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('is reported with its name, the signal that stopped it and its log file', async () => {
    const logDir = path.join(dir, 'logs');
    stack = await startLocalStack({ logDir, services: ['kinesis', 'dynamodb'] });
    const pid = stack.pids.kinesis as number;
    process.kill(pid, 'SIGTERM');
    const death = await within(stack.died, 10_000);
    expect(death).toBeInstanceOf(ServiceDiedError);
    const d = death as ServiceDiedError;
    expect(d).toMatchObject({
      service: 'kinesis',
      pid,
      signal: 'SIGTERM',
      logFile: path.join(logDir, 'kinesis.log'),
    });
    expect(d.message).toBe(
      `local service kinesis (pid ${pid}) exited unexpectedly: signal SIGTERM; its log: ${path.join(logDir, 'kinesis.log')}`,
    );
    // The log says what the service saw, and the report quotes it.
    expect(d.logTail).toContain('kinesis: SIGTERM received, stopping');
    expect(d.describe()).toContain(d.logTail);
    // The others are left running for the caller to read from or stop.
    expect(isRunning(stack.pids.dynamodb as number)).toBe(true);
  });

  it('is not what stop() does', async () => {
    stack = await startLocalStack({ logDir: path.join(dir, 'logs'), services: ['dynamodb', 'kinesis'] });
    const pids = Object.values(stack.pids);
    await stack.stop();
    expect(pids.some(isRunning)).toBe(false);
    expect(await within(stack.died, 1_000)).toBe('pending');
  });

  it('is reported for the Kafka broker, a JVM, with its exit code and log', async () => {
    await buildKafkaLauncher();
    const logFile = path.join(dir, 'broker.log');
    const broker = await startKafka({ dir: path.join(dir, 'kafka'), logFile });
    try {
      process.kill(broker.pid, 'SIGKILL');
      const death = await within(broker.died, 10_000);
      expect(death).toBeInstanceOf(ServiceDiedError);
      expect(death).toMatchObject({ service: 'kafka', pid: broker.pid, signal: 'SIGKILL', logFile });
      expect((death as ServiceDiedError).message).toContain(`signal SIGKILL; its log: ${logFile}`);
    } finally {
      await broker.stop();
    }
  });

  it('ends `npm run local` at once, naming it, and stops the other services', async () => {
    const run = startCli(TSX, ['tools/local-stack/cli.ts', '--port-base', '0', '--dir', dir], { cwd: ROOT });
    try {
      await run.waitFor(/Ctrl-C stops everything/, 60_000);
      const services = descendants(run.pid).filter((p) => p.args.includes('serve.mjs'));
      expect(services).toHaveLength(3);
      const kinesis = services.find((p) => p.args.includes('serve.mjs kinesis'));
      expect(kinesis).toBeDefined();
      const killedAt = Date.now();
      process.kill(kinesis?.pid as number, 'SIGTERM');
      const exit = await within(run.exited, 15_000);
      expect(exit).not.toBe('pending');
      expect(exit).toMatchObject({ code: 4 });
      expect((exit as { at: number }).at - killedAt).toBeLessThan(10_000);
      expect(run.stderr()).toContain(
        `local service kinesis (pid ${kinesis?.pid}) exited unexpectedly: signal SIGTERM; its log: ${path.join(dir, 'logs', 'kinesis.log')}`,
      );
      expect(run.stderr()).toContain('stopping the other local services');
      expect(await until(() => !services.some((p) => isRunning(p.pid)), 5_000)).toBe(true);
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGINT');
      await run.exited;
    }
  });

  it('runs `npm run local -- --iceberg` with the Iceberg catalog in stack.env, and stops it when it dies', async () => {
    const run = startCli(TSX, ['tools/local-stack/cli.ts', '--port-base', '0', '--iceberg', '--dir', dir], {
      cwd: ROOT,
    });
    try {
      await run.waitFor(/Ctrl-C stops everything/, 120_000);
      const env = Object.fromEntries(
        readFileSync(path.join(dir, 'stack.env'), 'utf8')
          .trim()
          .split('\n')
          .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
      );
      expect(env.ICEBERG_CATALOG_URI).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${env.ICEBERG_CATALOG_URI}/v1/config`)).status).toBe(200);
      const jvm = descendants(run.pid).find((p) => p.args.includes('taxi-stream-iceberg.jar'));
      expect(jvm).toBeDefined();
      process.kill(jvm?.pid as number, 'SIGKILL');
      const exit = await within(run.exited, 15_000);
      expect(exit).toMatchObject({ code: 4 });
      expect(run.stderr()).toContain('local service iceberg-catalog');
      expect(run.stderr()).toContain(path.join(dir, 'logs', 'iceberg-catalog.log'));
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGINT');
      await run.exited;
    }
  });
});
