import { parseIsoTimestamp } from '../../../lib/domain/timestamps';

describe('parseIsoTimestamp', () => {
  it.each([
    ['2018-01-05T13:04:05Z', Date.UTC(2018, 0, 5, 13, 4, 5)],
    ['2018-01-05 13:04:05Z', Date.UTC(2018, 0, 5, 13, 4, 5)],
    ['2018-01-05T13:04Z', Date.UTC(2018, 0, 5, 13, 4)],
    ['2018-01-05T13:04:05.123456Z', Date.UTC(2018, 0, 5, 13, 4, 5, 123)],
    ['2018-01-05T08:04:05-05:00', Date.UTC(2018, 0, 5, 13, 4, 5)],
    ['2018-01-05T18:34:05+0530', Date.UTC(2018, 0, 5, 13, 4, 5)],
    ['2020-02-29T00:00:00Z', Date.UTC(2020, 1, 29)],
  ])('%s', (text, expected) => {
    expect(parseIsoTimestamp(text)).toBe(expected);
  });

  it.each([
    ['2018-01-05T13:04:05', 'zone'],
    ['2018-02-30T00:00:00Z', 'calendar'],
    ['2019-02-29T00:00:00Z', 'calendar'],
    ['2018-13-01T00:00:00Z', 'calendar'],
    ['2018-01-01T24:00:00Z', 'calendar'],
    ['2018-01-01T23:60:00Z', 'calendar'],
    ['2018-01-01T00:00:00+25:00', 'calendar'],
    ['yesterday', 'format'],
    ['2018-1-5T13:04:05Z', 'format'],
    ['', 'format'],
  ])('%s is not a timestamp (%s)', (text, problem) => {
    expect(parseIsoTimestamp(text)).toBe(problem);
  });
});

describe('parseIsoTimestamp fast path', () => {
  it('agrees with Date for every millisecond form it takes, and defers the rest', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let i = 0; i < 5_000; i++) {
      const ms = Date.UTC(2009, 0, 1) + Math.floor(random() * 20 * 365 * 86_400_000);
      const iso = new Date(ms).toISOString();
      expect(parseIsoTimestamp(iso)).toBe(ms);
      expect(parseIsoTimestamp(iso.replace(/\.\d{3}Z$/, 'Z'))).toBe(ms - (ms % 1000));
    }
    expect(parseIsoTimestamp('2018-01-05T13:04:05.1x3Z')).toBe('format');
    expect(parseIsoTimestamp('2018-02-29T13:04:05.123Z')).toBe('calendar');
    expect(parseIsoTimestamp('2018-01-05T13:04:05.123+00:00')).toBe(Date.UTC(2018, 0, 5, 13, 4, 5, 123));
  });
});
