/**
 * Geohash cells for the pickup heat map. OpenSearch's geohash_grid names cells by their
 * geohash; the lake has raw coordinates, and DuckDB (without its spatial extension, which it
 * would download) cannot compute a geohash. A geohash of precision p is a grid of
 * 2^ceil(5p/2) columns of longitude by 2^floor(5p/2) rows of latitude, so the lake query
 * groups by integer column and row, and the cell's name and bounds are computed here.
 */

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';

export interface GeohashCell {
  readonly geohash: string;
  readonly lon0: number;
  readonly lon1: number;
  readonly lat0: number;
  readonly lat1: number;
}

/** Columns (longitude) and rows (latitude) of the grid at a precision. */
export function geohashGrid(precision: number): { columns: number; rows: number } {
  const bits = 5 * precision;
  return { columns: 2 ** Math.ceil(bits / 2), rows: 2 ** Math.floor(bits / 2) };
}

/** The cell in column `x` and row `y` of the grid at `precision` (as the lake query numbers them). */
export function geohashCell(x: number, y: number, precision: number): GeohashCell {
  const { columns, rows } = geohashGrid(precision);
  const lonBits = Math.log2(columns);
  const latBits = Math.log2(rows);
  let hash = '';
  let chunk = 0;
  let lonBit = lonBits - 1;
  let latBit = latBits - 1;
  // Bits alternate, longitude first, most significant first; five bits per character.
  for (let i = 0; i < 5 * precision; i++) {
    const bit = i % 2 === 0 ? (x >> lonBit--) & 1 : (y >> latBit--) & 1;
    chunk = (chunk << 1) | bit;
    if (i % 5 === 4) {
      hash += BASE32[chunk];
      chunk = 0;
    }
  }
  const width = 360 / columns;
  const height = 180 / rows;
  return {
    geohash: hash,
    lon0: -180 + x * width,
    lon1: -180 + (x + 1) * width,
    lat0: -90 + y * height,
    lat1: -90 + (y + 1) * height,
  };
}

/** The cell a geohash names (what OpenSearch's geohash_grid returns as a bucket key). */
export function decodeGeohash(geohash: string): GeohashCell {
  let x = 0;
  let y = 0;
  let i = 0;
  for (const char of geohash.toLowerCase()) {
    const value = BASE32.indexOf(char);
    if (value < 0) throw new Error(`not a geohash: "${geohash}"`);
    for (let b = 4; b >= 0; b--, i++) {
      const bit = (value >> b) & 1;
      if (i % 2 === 0) x = x * 2 + bit;
      else y = y * 2 + bit;
    }
  }
  return geohashCell(x, y, geohash.length);
}
