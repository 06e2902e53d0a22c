/**
 * With CHECK_EVENT_SOURCE_MAPPINGS, a sink is used only while none of the function's own event
 * source mappings runs batches of one shard concurrently (a ParallelizationFactor above 1
 * changed outside the template: the ledger's per-shard high-water mark would then skip
 * records). The check runs at cold start and again every CHECK_EVENT_SOURCE_MAPPINGS_INTERVAL_SECONDS
 * (docs/operations.md). Shared by every sink that commits through a ledger.
 */
import { createLambdaClient } from '../aws-clients';
import type { AwsEndpoints } from '../config';
import { LambdaEventSourceMappings } from '../runtime/lambda-event-source-mappings';
import { checkMappings, type EventSourceMappings, guardedByMappingCheck } from '../runtime/mapping-check';
import { type Provider, RetryingSetup, setupStep } from '../runtime/retrying-setup';

export interface MappingCheckConfig {
  readonly aws: AwsEndpoints;
  readonly functionName: string;
  readonly deadlineMarginMs: number;
  readonly checkEventSourceMappings: boolean;
  readonly mappingCheckIntervalMs: number;
}

export function withMappingCheck<T>(
  sink: Provider<T>,
  config: MappingCheckConfig,
  mappings?: EventSourceMappings,
): Provider<T> {
  if (!config.checkEventSourceMappings) return sink;
  const api = mappings ?? new LambdaEventSourceMappings(createLambdaClient(config.aws));
  const check = new RetryingSetup(
    () =>
      setupStep(
        `list the event source mappings of ${config.functionName} (lambda:ListEventSourceMappings)`,
        () => checkMappings(api, config.functionName),
      ),
    {
      what: 'event source mapping check',
      marginMs: config.deadlineMarginMs,
      refreshAfterMs: config.mappingCheckIntervalMs,
    },
  ).start();
  return guardedByMappingCheck(sink, check);
}
