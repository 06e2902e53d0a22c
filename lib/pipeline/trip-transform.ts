import type { TripEnricher } from '../domain/enrich';
import type { TripDecoder } from '../domain/trip';
import { PoisonRecordError } from '../errors';
import { type LakeRow, toLakeRow } from '../lake/lake-row';
import type { SourceRecord } from '../sources/source-record';

export type Transformed =
  | { readonly kind: 'trip'; readonly row: LakeRow }
  | { readonly kind: 'watermark'; readonly watermarkMs: number }
  | { readonly kind: 'poison'; readonly error: PoisonRecordError };

/** decode -> validate -> enrich -> lineage, shared by every sink. */
export class TripTransform {
  constructor(
    private readonly decoder: TripDecoder,
    private readonly enricher: TripEnricher,
  ) {}

  apply(record: SourceRecord): Transformed {
    try {
      const event = this.decoder.decode(record.payload, record.arrivalTimeMs);
      if (event.kind === 'watermark') return { kind: 'watermark', watermarkMs: event.watermarkMs };
      return { kind: 'trip', row: toLakeRow(this.enricher.enrich(event.trip), record) };
    } catch (error) {
      if (error instanceof PoisonRecordError) return { kind: 'poison', error };
      throw error; // a bug, not bad input: fail the invocation loudly
    }
  }
}
