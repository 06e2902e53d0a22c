/**
 * Errors are sorted by what happens next (house style):
 * - PoisonRecordError: the record can never succeed -> dead letter, move on.
 * - RetryableSinkError: a sink could not durably handle a record now -> batch item failure.
 * - ConfigError: the function cannot run -> fail at cold start.
 */

/** Pipeline stage a poison record was rejected at; travels with the dead letter. */
export type PoisonStage = 'decode' | 'validate' | 'index';

export abstract class PoisonRecordError extends Error {
  abstract readonly stage: PoisonStage;
  /** Dotted field path the error is about, when there is one. */
  readonly field: string | undefined;

  constructor(message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.field = options?.field;
  }
}

export class OversizedPayloadError extends PoisonRecordError {
  readonly stage = 'decode';
}

export class NotUtf8Error extends PoisonRecordError {
  readonly stage = 'decode';
}

export class NotJsonError extends PoisonRecordError {
  readonly stage = 'decode';
}

export class UnknownEventTypeError extends PoisonRecordError {
  readonly stage = 'validate';
}

export class MissingFieldError extends PoisonRecordError {
  readonly stage = 'validate';
}

export class InvalidFieldError extends PoisonRecordError {
  readonly stage = 'validate';
}

export class InvalidTimestampError extends PoisonRecordError {
  readonly stage = 'validate';
}

/** A document the search cluster refused for good (for example a mapping conflict). */
export class RejectedDocumentError extends PoisonRecordError {
  readonly stage = 'index';
}

/** A sink failed in a way another attempt may not: report the record as a batch item failure. */
export class RetryableSinkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryableSinkError';
  }
}

/**
 * An I/O call was given up because the invocation's time, minus the deadline margin, ran out.
 * What the call did is unknown (it may still land): the sink treats it like a lost answer.
 */
export class DeadlineExceededError extends RetryableSinkError {
  constructor(
    readonly operation: string,
    readonly budgetMs: number,
  ) {
    super(
      budgetMs > 0
        ? `${operation}: gave up after ${Math.ceil(budgetMs)} ms, the deadline margin was reached`
        : `${operation}: not started, the deadline margin was reached`,
    );
    this.name = 'DeadlineExceededError';
  }
}

/** Configuration is missing or malformed: the function must not start. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** The event source broke an ordering guarantee the commit protocol depends on. */
export class OrderingViolationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrderingViolationError';
  }
}

/** The event itself is not of a shape this function can read (wrong trigger wired to it). */
export class UnsupportedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedEventError';
  }
}

/** An object under the raw archive prefix that is not in the archive's format (docs/recovery.md). */
export class ArchiveFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveFormatError';
  }
}

/**
 * A newer invocation took the channel's Kafka transactional ID over (InitProducerId bumped the
 * epoch): this one's transaction can never commit. The batch is reported failed; the newer
 * holder, or the retry, publishes it once.
 */
export class ProducerFencedError extends RetryableSinkError {
  constructor(
    readonly transactionalId: string,
    readonly step: string,
    options?: { cause?: unknown },
  ) {
    super(`${transactionalId}: fenced at ${step} by a newer holder of the transactional ID`, options);
    this.name = 'ProducerFencedError';
  }
}
