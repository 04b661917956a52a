/**
 * The HTML report of `facestream evaluate --html`: one self-contained file (no scripts, no
 * outside links; thumbnails inlined as base64 JPEG) with the figures, the confusion matrix as a
 * coloured grid, and every wrong answer beside a face of the person it was mistaken for.
 */
import path from 'node:path';
import type { EvaluationReport } from './evaluate.js';
import { UNKNOWN } from '../common/match.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const img = (jpeg: Buffer | undefined, title: string) =>
  jpeg ? `<img src="data:image/jpeg;base64,${jpeg.toString('base64')}" alt="${esc(title)}" title="${esc(title)}">` : `<div class="none">no picture</div>`;

/** Colour of a confusion cell: green on the diagonal, red off it, stronger with the share of the row. */
function cellColour(share: number, diagonal: boolean): string {
  if (share === 0) return '#fff';
  const lightness = Math.round(95 - share * 55);
  return diagonal ? `hsl(130 55% ${lightness}%)` : `hsl(0 75% ${lightness}%)`;
}

export function renderEvaluationHtml(report: EvaluationReport, meta: { data: string; unknown?: string; generatedAt: Date }): string {
  const { labels, matrix } = report.confusion;
  const rows = labels
    .map((truth, i) => {
      const row = matrix[i];
      const n = row.reduce((a, b) => a + b, 0);
      if (n === 0) return '';
      const cells = row
        .map((count, j) => {
          const share = count / n;
          const title = `${truth} → ${labels[j]}: ${count} of ${n}`;
          return `<td style="background:${cellColour(share, i === j)}" title="${esc(title)}">${count || ''}</td>`;
        })
        .join('');
      return `<tr><th class="row">${esc(truth === UNKNOWN ? 'strangers' : truth)}</th>${cells}</tr>`;
    })
    .join('\n');
  const head = labels.map((l) => `<th class="col"><div>${esc(l)}</div></th>`).join('');
  const wrong = report.wrong
    .map((w) => {
      const mistakenFor = w.answer === UNKNOWN ? w.rank1 : w.answer;
      const what =
        w.truth === null
          ? `a stranger named <b>${esc(w.answer)}</b>`
          : w.answer === UNKNOWN
            ? `<b>${esc(w.truth)}</b> answered unknown (closest: ${esc(w.rank1)})`
            : `<b>${esc(w.truth)}</b> named <b>${esc(w.answer)}</b>`;
      return `<div class="pair">${img(w.crop, path.basename(w.file))}${img(report.faces[mistakenFor], mistakenFor)}<p>${what}, score ${w.score.toFixed(3)}<br><small>${esc(path.basename(w.file))}</small></p></div>`;
    })
    .join('\n');
  const open = report.openSet
    ? `<tr><td>strangers</td><td>${report.openSet.strangers}</td></tr>
<tr><td>FAR at the configured threshold</td><td>${pct(report.openSet.far)}</td></tr>
<tr><td>DIR at FAR 1% (threshold ${report.openSet.thresholdAtFar1.toFixed(3)})</td><td>${pct(report.openSet.dirAtFar1)}</td></tr>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>facestream evaluate: ${esc(report.matcher)} on ${esc(path.basename(meta.data))}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table.fig td{padding:2px 12px 2px 0}
table.cm{border-collapse:collapse;font-size:10px}
table.cm td{width:16px;height:16px;text-align:center;border:1px solid #eee;padding:0}
table.cm th.row{text-align:right;padding-right:4px;white-space:nowrap;font-weight:normal}
table.cm th.col{height:120px;vertical-align:bottom;font-weight:normal}
table.cm th.col div{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
.pairs{display:flex;flex-wrap:wrap;gap:12px}
.pair{border:1px solid #ddd;padding:6px;width:240px}
.pair img,.pair .none{width:112px;height:112px;display:inline-block;background:#eee;margin-right:4px}
.pair p{margin:4px 0 0}
</style></head><body>
<h1>facestream evaluate</h1>
<p>${esc(meta.data)}${meta.unknown ? ` · strangers ${esc(meta.unknown)}` : ''} · matcher <b>${esc(report.matcher)}</b> · model ${esc(report.model)} · ${esc(meta.generatedAt.toISOString())}</p>
<table class="fig">
<tr><td>people enrolled</td><td>${report.people}</td></tr>
<tr><td>probes</td><td>${report.probes}</td></tr>
<tr><td>top-1 accuracy</td><td>${pct(report.top1)}</td></tr>
<tr><td>probes answered unknown</td><td>${report.rejectedProbes}</td></tr>
<tr><td>ms per face</td><td>${report.msPerFace.toFixed(1)}</td></tr>
${open}
</table>
<h2>Confusion matrix</h2>
<p>Rows: who the photo shows (strangers last); columns: the matcher's answer. Green: right; red: wrong.</p>
<table class="cm"><tr><th></th>${head}</tr>
${rows}
</table>
<h2>Wrong answers (${report.wrong.length})</h2>
<p>Each probe beside an enrolled face of the person it was taken for.</p>
<div class="pairs">${wrong || '<p>none</p>'}</div>
</body></html>
`;
}
