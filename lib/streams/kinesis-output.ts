/** Port for the Kinesis output stream, and its PutRecords adapter. */
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';

export interface OutputEntry {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export type PutOutcome =
  | { readonly ok: true }
  /** The entry was refused (throttled, internal failure): another attempt may succeed. */
  | { readonly ok: false; readonly errorCode: string; readonly message: string };

export interface OutputStream {
  /** One PutRecords request; outcomes in entry order. Throws when the request as a whole failed. */
  putRecords(entries: readonly OutputEntry[], signal?: AbortSignal): Promise<PutOutcome[]>;
}

/** PutRecords limits: records and bytes (data plus partition keys) per request. */
export const PUT_RECORDS_MAX_ENTRIES = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1_048_576;

export function entryBytes(entry: OutputEntry): number {
  return entry.data.byteLength + Buffer.byteLength(entry.partitionKey);
}

export class KinesisOutputStream implements OutputStream {
  private readonly target: { StreamARN: string } | { StreamName: string };

  /** `stream`: a stream name or ARN. */
  constructor(
    private readonly client: KinesisClient,
    stream: string,
  ) {
    this.target = stream.startsWith('arn:') ? { StreamARN: stream } : { StreamName: stream };
  }

  async putRecords(entries: readonly OutputEntry[], signal?: AbortSignal): Promise<PutOutcome[]> {
    const out = await this.client.send(
      new PutRecordsCommand({
        ...this.target,
        Records: entries.map((e) => ({ PartitionKey: e.partitionKey, Data: e.data })),
      }),
      signal ? { abortSignal: signal } : {},
    );
    const results = out.Records ?? [];
    if (results.length !== entries.length)
      throw new Error(`PutRecords answered ${results.length} results for ${entries.length} records`);
    return results.map((r) =>
      r.ErrorCode
        ? { ok: false, errorCode: r.ErrorCode, message: r.ErrorMessage ?? '' }
        : { ok: true as const },
    );
  }
}
