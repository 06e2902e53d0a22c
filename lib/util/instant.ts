/**
 * Instants as epoch milliseconds, made safe to format. JavaScript dates span +-8.64e15 ms
 * (years -271821 to 275760); outside it `new Date(ms)` is invalid, its fields are NaN and
 * `toISOString()` throws RangeError. Producer-supplied numbers reach such code (event times,
 * Kafka record timestamps of -1, Kinesis arrival times), so everything that formats one goes
 * through these helpers, and records whose times fall outside are rejected before they can
 * become a partition or index name.
 */

/** The largest magnitude a JavaScript Date holds. */
export const MAX_DATE_MS = 8.64e15;

/** True when `ms` is a finite instant a Date can represent. */
export function isRepresentableInstant(ms: number): boolean {
  return Number.isFinite(ms) && ms >= -MAX_DATE_MS && ms <= MAX_DATE_MS;
}

/**
 * Date.UTC for every year 0-9999. Date.UTC reads years 0-99 as 1900-1999 (a legacy rule), so
 * "0050-01-01" would become 1950; those years are computed 400 years later, where no such rule
 * applies, and moved back by one whole Gregorian cycle (146,097 days, the same weekdays and
 * leap years).
 */
export function utcMillis(
  year: number,
  monthIndex: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
  ms = 0,
): number {
  if (year >= 0 && year < 100) {
    return Date.UTC(year + 400, monthIndex, day, hour, minute, second, ms) - 146_097 * 86_400_000;
  }
  return Date.UTC(year, monthIndex, day, hour, minute, second, ms);
}

/** ISO-8601 text of an instant, or a plain description when a Date cannot hold it (never throws). */
export function describeInstant(ms: number): string {
  return isRepresentableInstant(ms) ? new Date(ms).toISOString() : `${ms} ms since 1970 (out of range)`;
}

/** Epoch milliseconds from a source envelope, or 0 (unknown) when absent, non-positive or out of range. */
export function sourceInstant(ms: number): number {
  return Number.isFinite(ms) && ms > 0 && ms <= MAX_DATE_MS ? ms : 0;
}
