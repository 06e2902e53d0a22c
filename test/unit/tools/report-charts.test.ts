/**
 * The report's building blocks: geohash cells named as OpenSearch names them, Vega-Lite
 * charts rendered to SVG holding one mark per data row, and a page that escapes what it shows.
 */
import { barChart, heatMap, renderSvg } from '../../../tools/report/charts';
import { decodeGeohash, geohashCell, geohashGrid } from '../../../tools/report/geohash';
import { renderPage } from '../../../tools/report/page';

/** The SVG paths inside the data-mark group of a rendered chart (not axes, not legends). */
function dataMarks(svg: string, mark: 'rect' | 'line' | 'symbol'): number {
  const group = svg.split(`class="mark-${mark} role-mark`)[1]?.split('</g>')[0] ?? '';
  return (group.match(/<path /g) ?? []).length;
}

describe('geohash cells', () => {
  // Times Square: OpenSearch's geohash_grid puts it in dr5ru7 at precision 6
  // (test/integration/insights.test.ts asserts that bucket key on the real node).
  const lon = -73.9855;
  const lat = 40.758;

  it('numbers the grid as the lake query does and names the cell as OpenSearch does', () => {
    const { columns, rows } = geohashGrid(6);
    expect({ columns, rows }).toEqual({ columns: 2 ** 15, rows: 2 ** 15 });
    const x = Math.floor(((lon + 180) / 360) * columns);
    const y = Math.floor(((lat + 90) / 180) * rows);
    const cell = geohashCell(x, y, 6);
    expect(cell.geohash).toBe('dr5ru7');
    expect(cell.lon0).toBeLessThanOrEqual(lon);
    expect(cell.lon1).toBeGreaterThan(lon);
    expect(cell.lat0).toBeLessThanOrEqual(lat);
    expect(cell.lat1).toBeGreaterThan(lat);
  });

  it('decodes a geohash back to the same cell, at odd precisions too', () => {
    expect(decodeGeohash('dr5ru7')).toEqual(
      geohashCell(Math.floor(((lon + 180) / 360) * 2 ** 15), Math.floor(((lat + 90) / 180) * 2 ** 15), 6),
    );
    // Precision 5: 25 bits, 13 of longitude and 12 of latitude; dr5ru is the parent of dr5ru7.
    const parent = decodeGeohash('dr5ru');
    expect(parent.geohash).toBe('dr5ru');
    expect(parent.lon1 - parent.lon0).toBeCloseTo(360 / 2 ** 13, 12);
    expect(parent.lat1 - parent.lat0).toBeCloseTo(180 / 2 ** 12, 12);
    expect(parent.lon0).toBeLessThanOrEqual(lon);
    expect(parent.lat0).toBeLessThanOrEqual(lat);
    expect(() => decodeGeohash('dr5ra')).toThrow('not a geohash');
  });
});

describe('charts', () => {
  it('renders one bar per row, with no script and no external reference', async () => {
    const svg = await renderSvg(
      barChart({
        id: 'x',
        title: 'x',
        caption: 'x',
        rows: [
          { label: 'a', count: 3 },
          { label: 'b', count: 5 },
          { label: 'c', count: 1 },
        ],
        countTitle: 'n',
      }).spec,
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(dataMarks(svg, 'rect')).toBe(3);
    expect(svg).not.toMatch(/<script|href=|url\((?!#)/);
  });

  it('draws a heat map cell per geohash cell', async () => {
    const cells = ['dr5ru7', 'dr5ru6', 'dr5rue'].map((h, i) => ({ ...decodeGeohash(h), trips: i + 1 }));
    const svg = await renderSvg(heatMap({ id: 'h', title: 'h', caption: 'h', cells }).spec);
    expect(dataMarks(svg, 'rect')).toBe(3);
    expect(svg).toContain('geohash: dr5rue');
  });
});

describe('the page', () => {
  it('escapes the text it shows', async () => {
    const html = await renderPage({
      title: 'run <script>alert(1)</script>',
      subtitle: 'a & b',
      facts: [['input', '"quoted" <file>']],
      sections: [{ title: 'S', table: { head: ['k'], rows: [['<b>']] }, empty: ['none <here>'] }],
    });
    expect(html).not.toContain('<script>');
    expect(html).toContain('run &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;quoted&quot; &lt;file&gt;');
    expect(html).toContain('<td>&lt;b&gt;</td>');
    expect(html).toContain("default-src 'none'");
  });
});
