import { DeadlineExceededError, RetryableSinkError } from '../../../lib/errors';
import { deadlineIn, IoBudget, NO_DEADLINE, withinBudget } from '../../../lib/pipeline/deadline';

describe('withinBudget', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs the call as is when the budget is unbounded (NO_DEADLINE): no signal, no timer', async () => {
    const signals: Array<AbortSignal | undefined> = [];
    const result = withinBudget(Number.POSITIVE_INFINITY, 'op', async (signal) => {
      signals.push(signal);
      return 42;
    });
    expect(jest.getTimerCount()).toBe(0);
    await expect(result).resolves.toBe(42);
    expect(signals).toEqual([undefined]);
  });

  it('does not start the call when nothing is left of the budget', async () => {
    const call = jest.fn(async () => 'never');
    for (const budget of [0, -5]) {
      const out = withinBudget(budget, 'ledger.commit', call);
      await expect(out).rejects.toThrow(DeadlineExceededError);
      await expect(out).rejects.toThrow('ledger.commit: not started, the deadline margin was reached');
    }
    expect(call).not.toHaveBeenCalled();
  });

  it('answers what the call answers, and clears its timer', async () => {
    let seen: AbortSignal | undefined;
    const ok = withinBudget(1_000, 'op', async (signal) => {
      seen = signal;
      return 'done';
    });
    await expect(ok).resolves.toBe('done');
    expect(jest.getTimerCount()).toBe(0);
    expect(seen?.aborted).toBe(false);
    const failing = withinBudget(1_000, 'op', async () => {
      throw new Error('SlowDown');
    });
    await expect(failing).rejects.toThrow('SlowDown');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('gives up on a hung call when the budget runs out, and aborts its signal', async () => {
    let seen: AbortSignal | undefined;
    const hung = withinBudget(1_000, 'store.put staging/x', (signal) => {
      seen = signal;
      // Like an SDK request: settles only when aborted, with an AbortError.
      return new Promise<never>((_, reject) =>
        signal?.addEventListener('abort', () =>
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        ),
      );
    });
    const settled = hung.catch((error: unknown) => error);
    jest.advanceTimersByTime(999);
    expect(seen?.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    const error = await settled;
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error).toBeInstanceOf(RetryableSinkError);
    expect(error).toMatchObject({
      name: 'DeadlineExceededError',
      operation: 'store.put staging/x',
      budgetMs: 1_000,
    });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
  });
});

describe('IoBudget', () => {
  it('pins one reading of the remaining time to the clock: the budget then runs with the clock', () => {
    let clock = 5_000;
    const deadline = deadlineIn(10_000, () => clock);
    const budget = IoBudget.until(deadline.remainingMs(), 3_000, () => clock);
    expect(budget.leftMs()).toBe(7_000);
    clock += 6_500;
    expect(budget.leftMs()).toBe(500);
    clock += 500;
    expect(budget.leftMs()).toBe(0);
  });

  it('is unbounded without a deadline', () => {
    expect(IoBudget.until(NO_DEADLINE.remainingMs(), 10_000).leftMs()).toBe(Number.POSITIVE_INFINITY);
  });
});
