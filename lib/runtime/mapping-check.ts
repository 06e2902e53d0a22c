/**
 * The run-time half of "ParallelizationFactor must be 1". The commit protocol keeps one
 * high-water mark per shard; with a factor above 1 Lambda runs several batches of one shard
 * at once, a later batch can commit first, and the earlier batch's records then sit at or
 * below the head and are skipped as duplicates: silent loss. The deployment refuses such a
 * factor, but a mapping can be changed outside the template (console, CLI, another stack).
 * The lake sink therefore reads its own mappings at cold start and every few minutes after,
 * and commits nothing while any of them has a factor above 1.
 */
import type { Deadline } from '../pipeline/deadline';
import type { Provider } from './retrying-setup';

/** What the check needs to know of one event source mapping. */
export interface EventSourceMappingSummary {
  readonly uuid: string;
  readonly eventSourceArn: string | undefined;
  /** Undefined for sources without the setting (Kafka, SQS): they deliver one batch per partition. */
  readonly parallelizationFactor: number | undefined;
  readonly state: string | undefined;
}

/** Port: the event source mappings that invoke a function (adapter: LambdaEventSourceMappings). */
export interface EventSourceMappings {
  /** Every mapping of the function, all pages. */
  list(functionName: string): Promise<EventSourceMappingSummary[]>;
}

export interface MappingVerdict {
  readonly functionName: string;
  readonly misconfigured: readonly EventSourceMappingSummary[];
}

/** Reads the function's mappings and keeps those whose factor would break per-shard order. */
export async function checkMappings(
  mappings: EventSourceMappings,
  functionName: string,
): Promise<MappingVerdict> {
  const all = await mappings.list(functionName);
  return {
    functionName,
    misconfigured: all.filter((m) => (m.parallelizationFactor ?? 1) > 1),
  };
}

/** Some mapping of this function would deliver batches of one shard concurrently. */
export class MisconfiguredMappingError extends Error {
  constructor(readonly verdict: MappingVerdict) {
    const list = verdict.misconfigured
      .map(
        (m) =>
          `${m.uuid} (ParallelizationFactor ${m.parallelizationFactor}, ${m.eventSourceArn ?? 'unknown source'})`,
      )
      .join(', ');
    super(
      `event source mapping ${list} of ${verdict.functionName} runs batches of one shard concurrently, ` +
        'which the per-shard commit ledger cannot order: nothing is committed until it is 1 again ' +
        '(aws lambda update-event-source-mapping --uuid <uuid> --parallelization-factor 1, or redeploy)',
    );
    this.name = 'MisconfiguredMappingError';
  }
}

/** Throws MisconfiguredMappingError when the verdict found any. */
export function assertMappingsOrdered(verdict: MappingVerdict): void {
  if (verdict.misconfigured.length > 0) throw new MisconfiguredMappingError(verdict);
}

/**
 * `sink`, refused (MisconfiguredMappingError) while the latest verdict of `check` names a
 * misconfigured mapping. Both are awaited together so neither waits for the other; a failed
 * check is a failed setup (SetupUnavailableError), and a misconfiguration is reported first.
 */
export function guardedByMappingCheck<T>(sink: Provider<T>, check: Provider<MappingVerdict>): Provider<T> {
  return {
    async get(deadline: Deadline): Promise<T> {
      const [verdict, built] = await Promise.allSettled([check.get(deadline), sink.get(deadline)]);
      if (verdict.status === 'fulfilled') assertMappingsOrdered(verdict.value);
      else throw verdict.reason;
      if (built.status === 'rejected') throw built.reason;
      return built.value;
    },
  };
}
