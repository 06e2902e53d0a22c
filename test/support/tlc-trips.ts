import { readFileSync } from 'node:fs';
import { type TripEventJson, tlcCsvToTripEvents } from '../../tools/replay/tlc-csv';
import { TLC_SAMPLE_2018_01 } from './shared-data';

/** The 10,000 real January 2018 trips as TripEvent JSON objects. */
export function sampleTrips(): TripEventJson[] {
  const file = TLC_SAMPLE_2018_01();
  return tlcCsvToTripEvents(readFileSync(file, 'utf-8'), file);
}
