/**
 * One self-contained HTML page: inline CSS, charts as inline SVG, no script and no external
 * reference, so it opens from a file, a mail attachment or a CI artifact with no network.
 */
import { type Chart, renderSvg } from './charts';

export interface Table {
  readonly head: readonly string[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | number>>;
}

export interface Section {
  readonly title: string;
  /** Plain text paragraphs. */
  readonly text?: readonly string[];
  readonly table?: Table;
  readonly charts?: readonly Chart[];
  /** Said instead of a chart that has nothing to draw (e.g. no dead letters). */
  readonly empty?: readonly string[];
}

export interface ReportPage {
  readonly title: string;
  readonly subtitle: string;
  /** A verdict shown under the title (e.g. RECONCILED), good or bad. */
  readonly verdict?: { readonly text: string; readonly ok: boolean };
  readonly facts: ReadonlyArray<readonly [string, string]>;
  readonly sections: readonly Section[];
}

export const escapeHtml = (text: string): string =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 0 auto; max-width: 1320px; padding: 20px 28px 48px; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.subtitle { color: #555; margin: 0 0 10px; }
.verdict { display: inline-block; font-weight: 600; padding: 3px 10px; border-radius: 4px; }
.verdict.ok { background: #e3f4e6; color: #1b6b2a; }
.verdict.bad { background: #fbe4e4; color: #9b1c1c; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; }
.body, .charts { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure.chart { margin: 0; background: #fff; border: 1px solid #e3e3e3; border-radius: 6px;
  padding: 10px 12px; max-width: 100%; overflow-x: auto; }
figure.chart { width: min-content; }
figure.chart figcaption { font-size: 12px; color: #555; }
figure.chart h3 { font-size: 14px; margin: 0 0 6px; }
table { border-collapse: collapse; background: #fff; margin: 6px 0; }
th, td { border: 1px solid #e3e3e3; padding: 3px 10px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
p.empty { color: #666; font-style: italic; }
`;

const cell = (v: string | number): string =>
  typeof v === 'number'
    ? `<td class="n">${escapeHtml(v.toLocaleString('en-US'))}</td>`
    : `<td>${escapeHtml(v)}</td>`;

async function renderChart(chart: Chart): Promise<string> {
  const svg = await renderSvg(chart.spec);
  return `<figure class="chart" id="${escapeHtml(chart.id)}" data-chart="${escapeHtml(chart.id)}">
<h3>${escapeHtml(chart.title)}</h3>
${svg}
<figcaption>${escapeHtml(chart.caption)}</figcaption>
</figure>`;
}

export async function renderPage(page: ReportPage): Promise<string> {
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(page.title)}</h1>`, `<p class="subtitle">${escapeHtml(page.subtitle)}</p>`);
  if (page.verdict)
    parts.push(`<p class="verdict ${page.verdict.ok ? 'ok' : 'bad'}">${escapeHtml(page.verdict.text)}</p>`);
  if (page.facts.length > 0) {
    parts.push(
      `<dl class="facts">${page.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`,
    );
  }
  for (const section of page.sections) {
    parts.push(`<section><h2>${escapeHtml(section.title)}</h2>`);
    for (const t of section.text ?? []) parts.push(`<p>${escapeHtml(t)}</p>`);
    // The table and the charts side by side when the window is wide enough.
    parts.push('<div class="body">');
    if (section.table) {
      parts.push(
        `<table><thead><tr>${section.table.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`,
        ...section.table.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`),
        '</tbody></table>',
      );
    }
    const charts = section.charts ?? [];
    if (charts.length > 0) {
      parts.push('<div class="charts">');
      // One at a time: each view is small, and the machine may be busy with the pipeline.
      for (const chart of charts) parts.push(await renderChart(chart));
      parts.push('</div>');
    }
    parts.push('</div>');
    for (const e of section.empty ?? []) parts.push(`<p class="empty">${escapeHtml(e)}</p>`);
    parts.push('</section>');
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(page.title)}</title>
<style>${CSS}</style>
</head>
<body>
${parts.join('\n')}
</body>
</html>
`;
}
