import { CatalogConflictError, CatalogStateUnknownError } from '../lake/iceberg/rest-catalog';

/** Catalog commits that failed in a way worth retrying, by kind. */
export interface CommitRetries {
  /** 409: another commit moved the table first. */
  conflicts: number;
  /** No answer, a 5xx or a timeout: the commit may or may not have landed. */
  unknownOutcomes: number;
}

/**
 * After a failed catalog commit (the committer, compaction, expiry, reprocessing): rethrows what
 * cannot be retried, that is any other error or the last of `maxAttempts`, and counts the rest
 * in `retries`. The caller then reloads the table and decides again on what it finds.
 */
export function retryCommitOrThrow(
  error: unknown,
  attempt: number,
  maxAttempts: number,
  retries?: CommitRetries,
): void {
  const conflict = error instanceof CatalogConflictError;
  if (!conflict && !(error instanceof CatalogStateUnknownError)) throw error;
  if (retries) {
    if (conflict) retries.conflicts++;
    else retries.unknownOutcomes++;
  }
  if (attempt + 1 >= maxAttempts) throw error;
}
