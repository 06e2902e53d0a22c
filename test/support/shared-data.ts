import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** ../shared beside the checkout (CI lays it out read-only; never write there). */
export const SHARED_DIR = path.resolve(__dirname, '..', '..', '..', 'shared');

export function sharedPath(...parts: string[]): string {
  const file = path.join(SHARED_DIR, ...parts);
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: tests read ../shared/data beside the checkout (see docs/testing.md)`,
    );
  }
  return file;
}

export const readShared = (...parts: string[]): string => readFileSync(sharedPath(...parts), 'utf-8');

export const ZONES_CSV = (): string => sharedPath('data', 'zones', 'taxi_zone_lookup.csv');
export const TLC_SAMPLE_2018_01 = (): string =>
  sharedPath('data', 'tlc', 'yellow_tripdata_sample_2018-01.csv');
