import { readFile } from 'node:fs/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors';
import { parseZoneCsv, type ZoneLookup } from './zones';

/** Loads the zone lookup named by ZONE_LOOKUP: a file path or s3://bucket/key. */
export async function loadZoneLookup(location: string, s3: S3Client): Promise<ZoneLookup> {
  let text: string;
  try {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
    if (m) {
      const out = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
      text = (await out.Body?.transformToString('utf-8')) ?? '';
    } else {
      text = await readFile(location, 'utf-8');
    }
    const zones = parseZoneCsv(text);
    if (zones.size === 0) throw new Error('no zones in the file');
    return zones;
  } catch (error) {
    throw new ConfigError('ZONE_LOOKUP', `cannot load ${location}: ${(error as Error).message}`);
  }
}
