/**
 * TLC trip files record local New York wall-clock time without a zone. To turn one into a
 * UTC instant we need New York's UTC offset at that wall-clock time:
 * - normal times: the one offset in force (-05:00 EST, -04:00 EDT);
 * - the repeated hour when clocks fall back (01:00-01:59 on the first Sunday of November)
 *   is ambiguous: we take the first occurrence (EDT), as most tools do;
 * - the skipped hour when clocks spring forward (02:00-02:59 on the second Sunday of March)
 *   does not exist: we read it as EST, which lands one hour later in EDT terms.
 * Offsets come from the runtime's ICU time zone data (Intl), so historic rule changes are right.
 */
import { utcMillis } from '../util/instant';

const formatter = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** Offset of New York from UTC at a UTC instant, in minutes (e.g. -300). */
function offsetAt(utcMs: number): number {
  const parts = formatter.formatToParts(new Date(utcMs));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = utcMillis(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

const cache = new Map<number, number>();

/** Converts New York wall-clock fields to a UTC epoch-ms instant (see rules above). */
export function nycWallClockToUtc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number {
  const wall = utcMillis(year, month - 1, day, hour, minute, second);
  // Offsets only change on the hour; cache per wall-clock hour.
  const hourKey = Math.floor(wall / 3_600_000);
  const cached = cache.get(hourKey);
  if (cached !== undefined) return wall - cached * 60_000;
  // Try EDT first (the earlier instant for the repeated hour), then EST.
  let chosen = -300;
  for (const candidate of [-240, -300]) {
    if (offsetAt(wall - candidate * 60_000) === candidate) {
      chosen = candidate;
      break;
    }
  }
  if (cache.size > 100_000) cache.clear();
  cache.set(hourKey, chosen);
  return wall - chosen * 60_000;
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?$/;

/** "2018-01-11 18:24:44" (New York local) -> epoch ms UTC; null when not of that form. */
export function parseNycLocal(text: string): number | null {
  const m = LOCAL.exec(text.trim());
  if (!m) return null;
  return nycWallClockToUtc(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
  );
}
