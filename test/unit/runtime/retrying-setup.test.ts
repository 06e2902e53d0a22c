import { DeadlineExceededError } from '../../../lib/errors';
import { deadlineIn } from '../../../lib/pipeline/deadline';
import {
  RetryingSetup,
  SetupStepError,
  SetupUnavailableError,
  setupStep,
} from '../../../lib/runtime/retrying-setup';

/** A build whose attempts the test settles by hand, in order. */
function manualBuild<T>() {
  const attempts: Array<{ resolve: (v: T) => void; reject: (e: unknown) => void }> = [];
  const build = jest.fn(
    () =>
      new Promise<T>((resolve, reject) => {
        attempts.push({ resolve, reject });
      }),
  );
  return { build, attempts };
}

const plenty = () => deadlineIn(60_000);

describe('RetryingSetup', () => {
  it('starts its first attempt at once (cold start) and hands out its result', async () => {
    const { build, attempts } = manualBuild<string>();
    const setup = new RetryingSetup(build, { what: 'lake sink setup', marginMs: 1_000 }).start();
    expect(build).toHaveBeenCalledTimes(1);
    attempts[0]?.resolve('sink');
    await expect(setup.get(plenty())).resolves.toBe('sink');
    await expect(setup.get(plenty())).resolves.toBe('sink');
    expect(build).toHaveBeenCalledTimes(1);
  });

  it('drops a failed attempt: the invocation sees the failure, the next one tries again and succeeds', async () => {
    let calls = 0;
    const build = jest.fn(async () => {
      calls++;
      if (calls === 1)
        throw new SetupStepError('load the zone lookup from s3://b/zones.csv', {
          cause: new Error('NoSuchKey'),
        });
      return 'sink';
    });
    const setup = new RetryingSetup(build, { what: 'lake sink setup', marginMs: 1_000 }).start();
    const first = await setup.get(plenty()).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(SetupUnavailableError);
    expect((first as Error).message).toBe(
      'lake sink setup failed: load the zone lookup from s3://b/zones.csv: Error: NoSuchKey',
    );
    expect((first as SetupUnavailableError).what).toBe('lake sink setup');
    await expect(setup.get(plenty())).resolves.toBe('sink');
    expect(build).toHaveBeenCalledTimes(2);
  });

  it('does not leave a cold-start failure unhandled before any invocation asks', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      new RetryingSetup(
        async () => {
          throw new Error('connect ECONNREFUSED');
        },
        { what: 'search sink setup', marginMs: 0 },
      ).start();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  describe('bounded by the deadline', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('waits for a hung attempt only until the deadline minus the margin; the next invocation reuses it', async () => {
      const { build, attempts } = manualBuild<string>();
      const setup = new RetryingSetup(build, { what: 'search sink setup', marginMs: 1_000 }).start();
      const first = setup.get(deadlineIn(3_000)).catch((e: unknown) => e);
      jest.advanceTimersByTime(1_999);
      await Promise.resolve();
      let settled = false;
      void first.then(() => {
        settled = true;
      });
      await Promise.resolve();
      expect(settled).toBe(false);
      jest.advanceTimersByTime(1);
      const error = await first;
      expect(error).toBeInstanceOf(SetupUnavailableError);
      expect((error as Error).cause).toBeInstanceOf(DeadlineExceededError);
      expect((error as Error).message).toContain('gave up after 2000 ms');

      // The attempt still runs; the next invocation waits for it instead of starting another.
      const second = setup.get(deadlineIn(3_000));
      attempts[0]?.resolve('sink');
      await expect(second).resolves.toBe('sink');
      expect(build).toHaveBeenCalledTimes(1);
    });

    it('starts nothing when the deadline leaves no time above the margin', async () => {
      const build = jest.fn(async () => {
        throw new Error('down');
      });
      const setup = new RetryingSetup(build, { what: 'lake sink setup', marginMs: 5_000 }).start();
      await Promise.resolve();
      await Promise.resolve();
      const error = await setup.get(deadlineIn(1_000)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SetupUnavailableError);
      expect((error as Error).message).toContain('not started, the deadline margin was reached');
      expect(build).toHaveBeenCalledTimes(1);
    });
  });

  it('builds again once a result is older than refreshAfterMs; a failed refresh is a failed setup', async () => {
    let clock = 0;
    const answers: Array<() => Promise<string>> = [
      async () => 'v1',
      async () => {
        throw new Error('ThrottlingException');
      },
      async () => 'v2',
    ];
    const build = jest.fn(() => (answers.shift() as () => Promise<string>)());
    const setup = new RetryingSetup(build, {
      what: 'event source mapping check',
      marginMs: 0,
      refreshAfterMs: 300_000,
      now: () => clock,
    }).start();
    await expect(setup.get(plenty())).resolves.toBe('v1');
    clock = 299_999;
    await expect(setup.get(plenty())).resolves.toBe('v1');
    expect(build).toHaveBeenCalledTimes(1);
    clock = 300_000;
    await expect(setup.get(plenty())).rejects.toThrow(
      'event source mapping check failed: Error: ThrottlingException',
    );
    await expect(setup.get(plenty())).resolves.toBe('v2');
    expect(build).toHaveBeenCalledTimes(3);
  });
});

describe('setupStep', () => {
  it('names the step that failed and keeps the cause', async () => {
    const cause = Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    const error = await setupStep('load the zone lookup from s3://b/k.csv', async () => {
      throw cause;
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SetupStepError);
    expect((error as Error).message).toBe(
      'load the zone lookup from s3://b/k.csv: NoSuchKey: The specified key does not exist.',
    );
    expect((error as Error).cause).toBe(cause);
  });
});
