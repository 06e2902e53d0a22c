/**
 * report.html in a real browser: a small demo run (real TLC trips of both eras and a few
 * poison lines) writes it, Debian's chromium loads it headless from the file with every
 * network request refused, and every chart must have drawn its marks.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { sharedPath, TLC_SAMPLE_2018_01 } from '../support/shared-data';

jest.setTimeout(300_000);

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CHROMIUM = '/usr/bin/chromium';
/** The flags known to work on these machines (no sandbox as root, no GPU, nothing in the background). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('report.html', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'taxi-report-'));
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it('the demo writes it and chromium draws every chart from the file alone', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does it on CI)`);
    }
    // Zone-era trips (pickups by zone), lon/lat-era trips (the geohash heat map), both with
    // airport trips, and lines the pipeline must dead-letter for two different reasons.
    const zoneEra = path.join(out, 'yellow-2018-01-head.csv');
    writeFileSync(zoneEra, readFileSync(TLC_SAMPLE_2018_01(), 'utf-8').split('\n').slice(0, 1501).join('\n'));
    const poison = path.join(out, 'poison.jsonl');
    writeFileSync(poison, ['not json at all', '{"type":"ride","trip_id":1}', 'still not json'].join('\n'));
    const lonLatEra = sharedPath('data', 'external', 'tlc', 'yellow_2016-06-09_lonlat_original_header.csv');
    const run = path.join(out, 'run');
    const { stdout } = await promisify(execFile)(
      TSX,
      [
        'tools/demo/cli.ts',
        '--input',
        zoneEra,
        '--input',
        lonLatEra,
        '--input',
        poison,
        '--out',
        run,
        '--json',
      ],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
    );
    const summary = JSON.parse(stdout.trim().split('\n').pop() as string);
    expect(summary).toMatchObject({ reconciled: true, validRecords: 1500 + 998, poisonRecords: 3 });
    expect(stdout).toContain('report.html');
    const file = path.join(run, 'report.html');
    const html = readFileSync(file, 'utf-8');
    // Self-contained: no script, nothing to fetch (url() only for the SVG's own clip paths).
    expect(html.match(/<script|<link|<img|<iframe|src=|href=|@import|url\((?!#)/gi)).toBeNull();

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
    const requests: string[] = [];
    const refused: string[] = [];
    const consoleErrors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith('file://')) return route.continue();
      refused.push(url);
      return route.abort();
    });
    await page.goto(`file://${file}`, { waitUntil: 'load' });

    expect(await page.locator('p.verdict.ok').textContent()).toContain('RECONCILED');
    const charts = page.locator('figure.chart');
    const ids = await charts.evaluateAll((figures) => figures.map((f) => f.getAttribute('data-chart')));
    expect(ids).toEqual([
      'stages',
      'pickups-by-zone',
      'pickups-heat-map',
      'airport-durations',
      'trips-over-time',
      'dead-letters',
      'partition-files',
      'partition-bytes',
    ]);
    for (const id of ids) {
      const chart = page.locator(`figure[data-chart="${id}"]`);
      // Data marks (bars, cells, lines, points), not axes or legends: the chart drew its data.
      const marks = await chart.locator('svg g.role-mark > *').count();
      expect({ id, drawn: marks > 0 }).toEqual({ id, drawn: true });
      const box = await chart.locator('svg').first().boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(100);
      expect(box?.height ?? 0).toBeGreaterThan(50);
    }
    // One bar per dead-letter reason in the run's export.
    const reasons = new Set(
      readFileSync(path.join(run, 'dead-letters.jsonl'), 'utf-8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).reason.errorClass as string),
    );
    expect(reasons.size).toBe(2);
    expect(
      await page.locator('figure[data-chart="dead-letters"] svg g.mark-rect.role-mark > path').count(),
    ).toBe(reasons.size);
    // The heat map is of New York: every cell's tooltip names a geohash starting "dr".
    const cells = await page
      .locator('figure[data-chart="pickups-heat-map"] svg g.mark-rect.role-mark > path')
      .evaluateAll((paths) => paths.map((p) => p.getAttribute('aria-label') ?? ''));
    expect(cells.length).toBeGreaterThan(20);
    expect(cells.every((label) => /geohash: dr/.test(label))).toBe(true);

    expect(refused).toEqual([]);
    expect(requests).toEqual([`file://${file}`]);
    expect(consoleErrors).toEqual([]);

    const screenshot = path.join(run, 'report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    const png = readFileSync(screenshot);
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    // IHDR width: the page as laid out at the viewport's width.
    expect(png.readUInt32BE(16)).toBe(1320);
  });
});
