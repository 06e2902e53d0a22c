import { ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import { deadlineIn } from '../../../lib/pipeline/deadline';
import { LambdaEventSourceMappings } from '../../../lib/runtime/lambda-event-source-mappings';
import {
  checkMappings,
  type EventSourceMappingSummary,
  type EventSourceMappings,
  guardedByMappingCheck,
  MisconfiguredMappingError,
} from '../../../lib/runtime/mapping-check';
import { RetryingSetup, SetupUnavailableError } from '../../../lib/runtime/retrying-setup';

const STREAM = 'arn:aws:kinesis:us-east-1:123456789012:stream/taxi-stream-dev-trips';

const mapping = (uuid: string, factor: number | undefined): EventSourceMappingSummary => ({
  uuid,
  eventSourceArn: STREAM,
  parallelizationFactor: factor,
  state: 'Enabled',
});

/** The port, answering whatever the test put in `current` (or failing with `error`). */
class FakeMappings implements EventSourceMappings {
  current: EventSourceMappingSummary[] = [];
  error: Error | undefined;
  readonly calls: string[] = [];

  async list(functionName: string): Promise<EventSourceMappingSummary[]> {
    this.calls.push(functionName);
    if (this.error) throw this.error;
    return this.current;
  }
}

describe('checkMappings', () => {
  it('passes factor 1 and sources without a factor (Kafka), keeps every mapping above 1', async () => {
    const fake = new FakeMappings();
    fake.current = [mapping('a', 1), mapping('kafka', undefined), mapping('b', 2), mapping('c', 10)];
    const verdict = await checkMappings(fake, 'taxi-stream-dev-lakeSink');
    expect(fake.calls).toEqual(['taxi-stream-dev-lakeSink']);
    expect(verdict.misconfigured.map((m) => m.uuid)).toEqual(['b', 'c']);
  });
});

describe('the lake sink guarded by the mapping check', () => {
  const sink = { get: async () => 'sink' };

  function guarded(fake: FakeMappings, clock: { now: number }) {
    const check = new RetryingSetup(() => checkMappings(fake, 'fn'), {
      what: 'event source mapping check',
      marginMs: 0,
      refreshAfterMs: 300_000,
      now: () => clock.now,
    }).start();
    return guardedByMappingCheck(sink, check);
  }

  it('refuses the sink while a mapping has a factor above 1, naming the mapping, and heals at the next check', async () => {
    const fake = new FakeMappings();
    fake.current = [mapping('0b8f-uuid', 4)];
    const clock = { now: 0 };
    const provider = guarded(fake, clock);
    const error = await provider.get(deadlineIn(60_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MisconfiguredMappingError);
    expect((error as Error).message).toContain(`0b8f-uuid (ParallelizationFactor 4, ${STREAM}) of fn`);
    expect((error as Error).message).toContain('--parallelization-factor 1');

    // Fixed outside the template: not seen before the next check, which is not every invocation.
    fake.current = [mapping('0b8f-uuid', 1)];
    clock.now = 299_999;
    await expect(provider.get(deadlineIn(60_000))).rejects.toBeInstanceOf(MisconfiguredMappingError);
    expect(fake.calls).toHaveLength(1);
    clock.now = 300_000;
    await expect(provider.get(deadlineIn(60_000))).resolves.toBe('sink');
    expect(fake.calls).toHaveLength(2);
  });

  it('treats a failing Lambda API like a failed setup, and calls it again on the next invocation', async () => {
    const fake = new FakeMappings();
    fake.error = Object.assign(
      new Error('User is not authorized to perform: lambda:ListEventSourceMappings'),
      {
        name: 'AccessDeniedException',
      },
    );
    const provider = guarded(fake, { now: 0 });
    const error = await provider.get(deadlineIn(60_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SetupUnavailableError);
    expect((error as Error).message).toContain('AccessDeniedException');
    fake.error = undefined;
    fake.current = [mapping('ok', 1)];
    await expect(provider.get(deadlineIn(60_000))).resolves.toBe('sink');
    expect(fake.calls).toHaveLength(2);
  });

  it('catches a factor raised after a clean start, at the next check', async () => {
    const fake = new FakeMappings();
    fake.current = [mapping('m', 1)];
    const clock = { now: 0 };
    const provider = guarded(fake, clock);
    await expect(provider.get(deadlineIn(60_000))).resolves.toBe('sink');
    fake.current = [mapping('m', 2)];
    clock.now = 300_000;
    await expect(provider.get(deadlineIn(60_000))).rejects.toBeInstanceOf(MisconfiguredMappingError);
  });
});

describe('LambdaEventSourceMappings', () => {
  it('reads every page of ListEventSourceMappings for the function', async () => {
    const inputs: unknown[] = [];
    const pages = [
      {
        EventSourceMappings: [
          { UUID: 'u1', EventSourceArn: STREAM, ParallelizationFactor: 1, State: 'Enabled' },
        ],
        NextMarker: 'page-2',
      },
      {
        EventSourceMappings: [
          { UUID: 'u2', EventSourceArn: STREAM, ParallelizationFactor: 3, State: 'Enabled' },
        ],
      },
    ];
    const client = {
      send: async (command: unknown) => {
        expect(command).toBeInstanceOf(ListEventSourceMappingsCommand);
        inputs.push((command as ListEventSourceMappingsCommand).input);
        return pages.shift();
      },
    };
    const list = await new LambdaEventSourceMappings(client as never).list('taxi-stream-dev-lakeSink');
    expect(inputs).toEqual([
      { FunctionName: 'taxi-stream-dev-lakeSink', Marker: undefined, MaxItems: 100 },
      { FunctionName: 'taxi-stream-dev-lakeSink', Marker: 'page-2', MaxItems: 100 },
    ]);
    expect(list).toEqual([
      { uuid: 'u1', eventSourceArn: STREAM, parallelizationFactor: 1, state: 'Enabled' },
      { uuid: 'u2', eventSourceArn: STREAM, parallelizationFactor: 3, state: 'Enabled' },
    ]);
  });
});
