/** Poison payloads of every class the validation policy names, with the error each must get. */
export interface PoisonCase {
  readonly name: string;
  readonly payload: Uint8Array;
  readonly errorClass: string;
}

const trip = (overrides: Record<string, unknown>): string =>
  JSON.stringify({
    type: 'trip',
    trip_id: 1,
    vendor_id: 2,
    pickup_datetime: '2018-01-05T13:00:00Z',
    dropoff_datetime: '2018-01-05T13:10:00Z',
    passenger_count: 1,
    trip_distance: 1.2,
    fare_amount: 7.5,
    total_amount: 9.8,
    ...overrides,
  });

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

export function poisonCases(): PoisonCase[] {
  return [
    { name: 'not JSON', payload: utf8('hello, taxi'), errorClass: 'NotJsonError' },
    { name: 'truncated JSON', payload: utf8(trip({}).slice(0, 40)), errorClass: 'NotJsonError' },
    { name: 'empty payload', payload: new Uint8Array(0), errorClass: 'NotJsonError' },
    { name: 'invalid UTF-8', payload: Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]), errorClass: 'NotUtf8Error' },
    { name: 'JSON array', payload: utf8('[1,2,3]'), errorClass: 'InvalidFieldError' },
    { name: 'missing type', payload: utf8('{"vendor_id":1}'), errorClass: 'MissingFieldError' },
    { name: 'unknown type', payload: utf8('{"type":"bogus"}'), errorClass: 'UnknownEventTypeError' },
    {
      name: 'missing fare',
      payload: utf8(trip({ fare_amount: undefined })),
      errorClass: 'MissingFieldError',
    },
    { name: 'fare as string', payload: utf8(trip({ fare_amount: '7.5' })), errorClass: 'InvalidFieldError' },
    {
      name: 'huge number',
      payload: utf8(trip({}).replace('"fare_amount":7.5', '"fare_amount":1e400')),
      errorClass: 'InvalidFieldError',
    },
    {
      name: 'negative passengers',
      payload: utf8(trip({ passenger_count: -1 })),
      errorClass: 'InvalidFieldError',
    },
    {
      name: 'February 30th',
      payload: utf8(trip({ pickup_datetime: '2018-02-30T10:00:00Z' })),
      errorClass: 'InvalidTimestampError',
    },
    {
      name: 'zone-less time',
      payload: utf8(trip({ pickup_datetime: '2018-01-05 13:00:00' })),
      errorClass: 'InvalidTimestampError',
    },
    {
      name: 'before 2009',
      payload: utf8(trip({ pickup_datetime: '1999-12-31T23:00:00Z' })),
      errorClass: 'InvalidTimestampError',
    },
    {
      name: 'watermark without time',
      payload: utf8('{"type":"watermark"}'),
      errorClass: 'MissingFieldError',
    },
    {
      name: 'oversized payload',
      payload: utf8(trip({ padding: 'x'.repeat(300 * 1024) })),
      errorClass: 'OversizedPayloadError',
    },
  ];
}
