import { parseNycLocal } from '../../../lib/domain/nyc-time';

const iso = (s: string): string => new Date(parseNycLocal(s) as number).toISOString();

describe('New York wall clock -> UTC', () => {
  it('uses EST in winter and EDT in summer', () => {
    expect(iso('2018-01-11 18:24:44')).toBe('2018-01-11T23:24:44.000Z');
    expect(iso('2018-07-01 12:00:00')).toBe('2018-07-01T16:00:00.000Z');
  });

  it('takes the first occurrence of the repeated fall-back hour', () => {
    expect(iso('2018-11-04 01:30:00')).toBe('2018-11-04T05:30:00.000Z');
    expect(iso('2018-11-04 02:30:00')).toBe('2018-11-04T07:30:00.000Z');
  });

  it('reads the skipped spring-forward hour as EST', () => {
    expect(iso('2018-03-11 02:30:00')).toBe('2018-03-11T07:30:00.000Z');
    expect(iso('2018-03-11 03:30:00')).toBe('2018-03-11T07:30:00.000Z');
  });

  it('rejects what is not a TLC timestamp', () => {
    expect(parseNycLocal('01/11/2018 06:24 PM')).toBeNull();
  });
});
