/**
 * The TLC taxi zone lookup (LocationID, Borough, Zone, service_zone). Loaded once at cold
 * start from a file or S3 object the deployment points at; the project does not ship it.
 */
export interface Zone {
  readonly locationId: number;
  readonly borough: string;
  readonly zone: string;
  readonly serviceZone: string;
}

export class ZoneLookup {
  private readonly zones: ReadonlyMap<number, Zone>;

  constructor(zones: Iterable<Zone>) {
    this.zones = new Map([...zones].map((z) => [z.locationId, z]));
  }

  get size(): number {
    return this.zones.size;
  }

  get(locationId: number | null): Zone | undefined {
    return locationId === null ? undefined : this.zones.get(locationId);
  }

  /** Zones in LocationID order (used by the synthetic generator and reports). */
  all(): Zone[] {
    return [...this.zones.values()].sort((a, b) => a.locationId - b.locationId);
  }
}

/** Splits one CSV line with RFC 4180 quoting. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/** Parses taxi_zone_lookup.csv (CRLF or LF, quoted fields, header row). */
export function parseZoneCsv(text: string): ZoneLookup {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`zone lookup has no "${name}" column (header: ${header.join(',')})`);
    return i;
  };
  const id = col('locationid');
  const borough = col('borough');
  const zone = col('zone');
  const service = col('service_zone');
  const zones: Zone[] = [];
  for (const line of lines.slice(1)) {
    const f = splitCsvLine(line);
    const locationId = Number(f[id]);
    if (!Number.isInteger(locationId)) throw new Error(`zone lookup row has a bad LocationID: ${line}`);
    zones.push({
      locationId,
      borough: f[borough] ?? '',
      zone: f[zone] ?? '',
      serviceZone: f[service] ?? '',
    });
  }
  return new ZoneLookup(zones);
}
