import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TripDecoder } from '../../lib/domain/trip';
import { decodeSourceEvent } from '../../lib/sources/decode-event';

const read = (name: string): unknown =>
  JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'events', name), 'utf-8'));

describe('sample events (npm run events)', () => {
  const decoder = new TripDecoder();
  const kinds = (event: unknown) =>
    decodeSourceEvent(event).map((r) => {
      try {
        return decoder.decode(r.payload, r.arrivalTimeMs).kind;
      } catch {
        return 'poison';
      }
    });

  it.each([
    ['kinesis-valid-trips.json', 'kinesis', 20, 0],
    ['kinesis-mixed-poison.json', 'kinesis', 42, 1],
    ['msk-trips.json', 'kafka', 20, 0],
    ['self-managed-kafka-trips.json', 'kafka', 42, 1],
  ])('%s decodes as %s with the records it promises', (file, kind, count, expectPoison) => {
    const event = read(file);
    const records = decodeSourceEvent(event);
    expect(records).toHaveLength(count);
    expect(new Set(records.map((r) => r.channel.kind))).toEqual(new Set([kind]));
    const found = kinds(event);
    if (expectPoison) {
      expect(found.filter((k) => k === 'poison').length).toBeGreaterThan(3);
      expect(found.filter((k) => k === 'watermark')).toHaveLength(2);
    } else {
      expect(found.every((k) => k === 'trip')).toBe(true);
    }
  });
});
