/** What the sample events in events/ hold, by the same decoder the sinks use. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TripDecoder } from '../../lib/domain/trip';
import { decodeSourceEvent } from '../../lib/sources/decode-event';

const EVENTS = path.join(__dirname, '..', '..', 'events');

/** Valid trips and poison records in a sample event file of events/. */
export function sampleEventOutcomes(file: string): { trips: number; poison: number } {
  const decoder = new TripDecoder();
  let trips = 0;
  let poison = 0;
  const event = JSON.parse(readFileSync(path.join(EVENTS, file), 'utf-8'));
  for (const r of decodeSourceEvent(event)) {
    try {
      if (decoder.decode(r.payload, r.arrivalTimeMs).kind === 'trip') trips++;
    } catch {
      poison++;
    }
  }
  return { trips, poison };
}
