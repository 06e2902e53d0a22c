/**
 * Cold-start setup that a failure does not poison. A handler that keeps its setup as one
 * module-scope promise keeps a rejected promise too: after the service it needed recovers,
 * every later invocation of that execution environment fails at once until Lambda recycles
 * it. Here an attempt starts at cold start (so a healthy start stays fast), a failed attempt
 * is dropped and the next invocation starts another, and every invocation waits for it at
 * most until its own deadline minus the margin, so a hung dependency cannot run the
 * function into its timeout (a timeout is an error, and errors make the mapping bisect).
 */
import { DeadlineExceededError } from '../errors';
import { type Deadline, withinBudget } from '../pipeline/deadline';

/** One named step of a setup (load the zone lookup, install the index template) failed. */
export class SetupStepError extends Error {
  constructor(
    readonly step: string,
    options: { cause: unknown },
  ) {
    super(`${step}: ${describe(options.cause)}`, options);
    this.name = 'SetupStepError';
  }
}

/** The setup is not available for this invocation: it failed or did not finish in time. */
export class SetupUnavailableError extends Error {
  constructor(
    readonly what: string,
    options: { cause: unknown },
  ) {
    super(`${what} failed: ${describe(options.cause)}`, options);
    this.name = 'SetupUnavailableError';
  }
}

function describe(error: unknown): string {
  if (error instanceof SetupStepError) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Runs one step of a setup, naming it in the error when it fails. */
export async function setupStep<T>(step: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new SetupStepError(step, { cause: error });
  }
}

/** Something an invocation waits for, within its deadline, before it can handle its batch. */
export interface Provider<T> {
  get(deadline: Deadline): Promise<T>;
}

export interface RetryingSetupOptions {
  /** Names the setup in errors ("lake sink setup"). */
  readonly what: string;
  /** Time kept back from the invocation's deadline (config `deadlineMarginMs`). */
  readonly marginMs: number;
  /** A successful result is used this long, then built again; default: for good. */
  readonly refreshAfterMs?: number;
  readonly now?: () => number;
}

export class RetryingSetup<T> implements Provider<T> {
  private value: { readonly result: T; readonly atMs: number } | undefined;
  private attempt: Promise<T> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly build: () => Promise<T>,
    private readonly options: RetryingSetupOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Starts the first attempt without waiting for it: called at module scope, during init. */
  start(): this {
    this.launch();
    return this;
  }

  /**
   * The setup's result, or SetupUnavailableError when the attempt failed (it is dropped, and
   * the next call starts another) or did not finish within the time left above the margin
   * (it goes on, and the next call waits for the same attempt).
   */
  async get(deadline: Deadline): Promise<T> {
    const current = this.value;
    if (current && this.fresh(current.atMs)) return current.result;
    const attempt = this.attempt;
    const budgetMs = deadline.remainingMs() - this.options.marginMs;
    // No time left: start nothing, so no call is frozen mid-flight with the environment.
    if (!attempt && !(budgetMs > 0)) {
      throw new SetupUnavailableError(this.options.what, {
        cause: new DeadlineExceededError(this.options.what, budgetMs),
      });
    }
    try {
      return await withinBudget(budgetMs, this.options.what, () => attempt ?? this.launch());
    } catch (error) {
      throw new SetupUnavailableError(this.options.what, { cause: error });
    }
  }

  private fresh(atMs: number): boolean {
    const refresh = this.options.refreshAfterMs;
    return refresh === undefined || this.now() - atMs < refresh;
  }

  private launch(): Promise<T> {
    const attempt: Promise<T> = (async () => this.build())().then(
      (result) => {
        this.value = { result, atMs: this.now() };
        if (this.attempt === attempt) this.attempt = undefined;
        return result;
      },
      (error: unknown) => {
        if (this.attempt === attempt) this.attempt = undefined;
        throw error;
      },
    );
    // A cold-start attempt may fail before any invocation waits for it: that is reported by
    // the next get(), not an unhandled rejection that would crash the runtime.
    attempt.catch(() => undefined);
    this.attempt = attempt;
    return attempt;
  }
}
