import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeExit, ServiceDiedError, ServiceWatch } from '../../../tools/local-stack/service-watch';

const never = new Promise<never>(() => undefined);

describe('service watch', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-watch-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const death = (service = 'opensearch'): ServiceDiedError => {
    const logFile = path.join(dir, `${service}.log`);
    writeFileSync(logFile, `${Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n')}\n`);
    return new ServiceDiedError(service, 4242, 143, null, logFile);
  };

  it('says how a process ended: a signal, an exit code, or 128 + a signal handled first', () => {
    expect(describeExit(null, 'SIGKILL')).toBe('signal SIGKILL');
    expect(describeExit(143, null)).toBe('exit code 143 (128 + SIGTERM)');
    expect(describeExit(130, null)).toBe('exit code 130 (128 + SIGINT)');
    expect(describeExit(1, null)).toBe('exit code 1');
    expect(describeExit(0, null)).toBe('exit code 0');
  });

  it('names the service, its pid, how it ended and its log, and quotes the end of the log', () => {
    const d = death();
    expect(d.name).toBe('ServiceDiedError');
    expect(d.message).toBe(
      `local service opensearch (pid 4242) exited unexpectedly: exit code 143 (128 + SIGTERM); its log: ${d.logFile}`,
    );
    expect(d.logTail.split('\n')).toEqual(Array.from({ length: 12 }, (_, i) => `line ${i + 9}`));
    expect(d.describe()).toBe(`${d.message}\n--- last lines of ${d.logFile} ---\n${d.logTail}\n---`);
    expect(new ServiceDiedError('kafka', undefined, 1, null, path.join(dir, 'none.log')).logTail).toBe(
      `(no log at ${path.join(dir, 'none.log')})`,
    );
  });

  it('lets work finish while every service lives', async () => {
    const watch = new ServiceWatch();
    watch.add(never);
    await expect(watch.guard(Promise.resolve(7))).resolves.toBe(7);
    await expect(watch.guard(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(watch.failure).toBeUndefined();
  });

  it('gives up on work at once when a service dies, with the first death', async () => {
    const watch = new ServiceWatch();
    let report!: (d: ServiceDiedError) => void;
    watch.add(never);
    watch.add(
      new Promise((resolve) => {
        report = resolve;
      }),
    );
    const work = watch.guard(never);
    const first = death('kinesis');
    report(first);
    watch.add(Promise.resolve(death('dynamodb')));
    await expect(work).rejects.toBe(first);
    expect(watch.failure).toBe(first);
    // Work started after the death gives up too.
    await expect(watch.guard(never)).rejects.toBe(first);
  });

  it('tells whether a failure was a death: the death itself, one seen, or one reported just after', async () => {
    const quiet = new ServiceWatch();
    await expect(quiet.causeOf(new Error('ECONNREFUSED'), 20)).resolves.toBeUndefined();

    const d = death();
    await expect(quiet.causeOf(d, 20)).resolves.toBe(d);

    // The client saw the closed port before the exit arrived.
    const late = new ServiceWatch();
    late.add(new Promise((resolve) => setTimeout(() => resolve(d), 30)));
    await expect(late.causeOf(new Error('ECONNREFUSED'), 2_000)).resolves.toBe(d);
    await expect(late.causeOf(new Error('anything'), 0)).resolves.toBe(d);
  });
});
