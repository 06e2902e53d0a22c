/**
 * An invocation whose sink is not available (setup failed or unfinished, or a mapping the
 * ledger cannot order) hands the whole batch back through the partial batch response: the
 * first record of every channel. Returning instead of throwing matters: a function error
 * makes the mapping bisect the batch, which would only multiply invocations that cannot work.
 */
import { groupByChannel, type SourceRecord } from '../sources/source-record';
import { MisconfiguredMappingError } from './mapping-check';
import { SetupUnavailableError } from './retrying-setup';

export type SinkUnavailableError = SetupUnavailableError | MisconfiguredMappingError;

export function isSinkUnavailable(error: unknown): error is SinkUnavailableError {
  return error instanceof SetupUnavailableError || error instanceof MisconfiguredMappingError;
}

/** Every channel's first record, in the toBatchResponse shape: the event source retries all of it. */
export function wholeBatchFailed(records: readonly SourceRecord[]): Array<{ record: SourceRecord }> {
  return [...groupByChannel(records).values()].map((group) => ({ record: group[0] as SourceRecord }));
}
