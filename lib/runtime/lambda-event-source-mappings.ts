/** EventSourceMappings adapter over the Lambda API (lambda:ListEventSourceMappings). */
import { type LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import type { EventSourceMappingSummary, EventSourceMappings } from './mapping-check';

export class LambdaEventSourceMappings implements EventSourceMappings {
  constructor(private readonly client: Pick<LambdaClient, 'send'>) {}

  async list(functionName: string): Promise<EventSourceMappingSummary[]> {
    const out: EventSourceMappingSummary[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.send(
        new ListEventSourceMappingsCommand({ FunctionName: functionName, Marker: marker, MaxItems: 100 }),
      );
      for (const m of page.EventSourceMappings ?? []) {
        out.push({
          uuid: m.UUID ?? 'unknown',
          eventSourceArn: m.EventSourceArn,
          parallelizationFactor: m.ParallelizationFactor,
          state: m.State,
        });
      }
      marker = page.NextMarker || undefined;
    } while (marker);
    return out;
  }
}
