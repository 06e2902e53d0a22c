/** Composition shared by both sinks: the trip decoder and enricher (zones loaded at cold start). */
import { createS3Client } from '../aws-clients';
import type { LakeSinkConfig } from '../config';
import { TripEnricher } from '../domain/enrich';
import { TripDecoder } from '../domain/trip';
import { loadZoneLookup } from '../domain/zone-source';
import { TripTransform } from '../pipeline/trip-transform';
import { setupStep } from '../runtime/retrying-setup';

export async function createTripTransform(
  config: Pick<LakeSinkConfig, 'validation' | 'zoneLookup' | 'aws'>,
): Promise<TripTransform> {
  const source = config.zoneLookup;
  const zones = source
    ? await setupStep(`load the zone lookup from ${source}`, () =>
        loadZoneLookup(source, createS3Client(config.aws)),
      )
    : null;
  return new TripTransform(new TripDecoder(config.validation), new TripEnricher(zones));
}
