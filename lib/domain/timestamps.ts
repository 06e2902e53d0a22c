/**
 * Strict ISO-8601 / RFC 3339 timestamp parsing. Date.parse is too lenient for a lake: it
 * accepts zone-less strings as local time and rolls 2018-02-30 over into March. Here a
 * timestamp must name its zone (Z or an offset) and be a real calendar instant.
 */
import { utcMillis } from '../util/instant';

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)$/;

export type TimestampProblem = 'format' | 'zone' | 'calendar';

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Two ASCII digits at `i` as a number, or NaN. */
function two(text: string, i: number): number {
  const a = text.charCodeAt(i) - 48;
  const b = text.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : Number.NaN;
}

/**
 * The form producers almost always send, `2018-01-05T13:04:05Z` or `...05.123Z`, read by
 * character position (the hot path of every trip); anything else goes to the full parser.
 */
function fastUtc(text: string): number | undefined {
  const n = text.length;
  if ((n !== 20 && n !== 24) || text.charCodeAt(n - 1) !== 90 /* Z */) return undefined;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':')
    return undefined;
  if (n === 24 && text[19] !== '.') return undefined;
  const year = two(text, 0) * 100 + two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const hour = two(text, 11);
  const minute = two(text, 14);
  const second = two(text, 17);
  const third = n === 24 ? text.charCodeAt(22) - 48 : 0;
  if (third < 0 || third > 9) return undefined;
  const ms = n === 24 ? two(text, 20) * 10 + third : 0;
  if (Number.isNaN(year + month + day + hour + minute + second + ms)) return undefined;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const monthDays = month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day < 1 || day > monthDays) return undefined;
  return utcMillis(year, month - 1, day, hour, minute, second, ms);
}

/** Epoch milliseconds, or the reason the text is not a timestamp. */
export function parseIsoTimestamp(text: string): number | TimestampProblem {
  const fast = fastUtc(text);
  if (fast !== undefined) return fast;
  const m = ISO.exec(text);
  if (!m) {
    return /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?$/.test(text) ? 'zone' : 'format';
  }
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  if (month < 1 || month > 12) return 'calendar';
  const monthDays = month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) return 'calendar';
  let offsetMinutes = 0;
  const zone = m[8] as string;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) return 'calendar';
    offsetMinutes = sign * (oh * 60 + om);
  }
  return utcMillis(year, month - 1, day, hour, minute, second, fraction) - offsetMinutes * 60_000;
}

/** `2018-01-05T13:04:05.000Z` */
export function formatIso(ms: number): string {
  return new Date(ms).toISOString();
}
