/**
 * Dead-letter redrive (docs/recovery.md): puts dead-lettered records back into the stream,
 * exactly once per dead-letter ID, and never twice without the operator saying so.
 *
 * Per dead letter:
 *   1  mark it `sending` (a conditional write: a mark that exists says what happened before)
 *   2  publish the original bytes (or the operator's edited bytes) with the original key
 *   3  mark it `done`, with the position the stream gave it
 * A mark left `sending` means a run died between 1 and 3: the record may or may not be in the
 * stream (Kinesis has no idempotent producer). It is reported as ambiguous and not sent again
 * unless the operator names it after checking the stream (`resend`).
 */
import type { DeadLetterMessage } from '../dead-letters/dead-letter';
import type { RedriveMarks } from '../ledger/redrive-marks';

export interface RedrivePublisher {
  /**
   * Publishes one record with `partitionKey`; `letter` says where it came from (a Kafka
   * publisher puts it back into its topic and partition). Returns its new position.
   */
  publish(partitionKey: string, data: Uint8Array, letter: DeadLetterMessage): Promise<string>;
}

/** A dead letter's payload, wherever it is (inline base64 or parked in S3). */
export type PayloadReader = (letter: DeadLetterMessage) => Promise<Uint8Array>;

export interface RedriveDeps {
  readonly marks: RedriveMarks;
  readonly publisher: RedrivePublisher;
  readonly payload: PayloadReader;
}

export interface RedriveReport {
  redriven: Array<{ deadLetterId: string; position: string }>;
  /** Redriven by an earlier run. */
  alreadyDone: string[];
  /** An earlier run died after marking them: maybe in the stream; check, then `resend`. */
  ambiguous: string[];
}

/** The key to publish with: the original one, unless the dead letter carries only its start. */
export function redriveKey(letter: DeadLetterMessage): string {
  const key = letter.source.partitionKey;
  if (key === null || key === '' || letter.source.partitionKeyChars !== undefined) return letter.deadLetterId;
  return key;
}

export class DeadLetterRedrive {
  constructor(private readonly deps: RedriveDeps) {}

  async run(
    letters: readonly DeadLetterMessage[],
    options: { resend?: ReadonlySet<string>; edited?: ReadonlyMap<string, Uint8Array> } = {},
  ): Promise<RedriveReport> {
    const report: RedriveReport = { redriven: [], alreadyDone: [], ambiguous: [] };
    const seen = new Set<string>();
    for (const letter of letters) {
      const id = letter.deadLetterId;
      if (seen.has(id)) continue;
      seen.add(id);
      const before = await this.deps.marks.begin(id);
      if (before === 'done') {
        report.alreadyDone.push(id);
        continue;
      }
      if (before === 'sending' && !options.resend?.has(id)) {
        report.ambiguous.push(id);
        continue;
      }
      const bytes = options.edited?.get(id) ?? (await this.deps.payload(letter));
      const position = await this.deps.publisher.publish(redriveKey(letter), bytes, letter);
      await this.deps.marks.finish(id, position);
      report.redriven.push({ deadLetterId: id, position });
    }
    return report;
  }
}
