/**
 * The Tuning page (#/tuning): the threshold replay of GET /api/tuning as a curve (inline SVG):
 * for each minSimilarity, the share of reviewed faces the live matcher would still name right
 * and the share of wrong names it would refuse, with the value in force marked. An admin picks
 * another value, sees what it would keep and refuse, and only then applies it (PUT /api/tuning).
 */
import { applyTuning, getTuning, type TuningPoint, type TuningReport } from './api.js';
import { byId, h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 44, right: 12, top: 12, bottom: 34 };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

const percent = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : '–');

/** The replayed point nearest to `value`. */
function nearest(points: readonly TuningPoint[], value: number): TuningPoint | undefined {
  let best: TuningPoint | undefined;
  for (const p of points) if (!best || Math.abs(p.minSimilarity - value) < Math.abs(best.minSimilarity - value)) best = p;
  return best;
}

export class TuningPage {
  private readonly summary = byId('tuning-summary', HTMLElement);
  private readonly chart = byId('tuning-chart', HTMLElement);
  private readonly error = byId('tuning-error', HTMLElement);
  private readonly form = byId('tuning-form', HTMLFormElement);
  private readonly input = byId('tuning-value', HTMLInputElement);
  private readonly preview = byId('tuning-preview', HTMLElement);
  private report: TuningReport | null = null;

  constructor() {
    this.input.addEventListener('input', () => this.render());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.apply();
    });
  }

  /** Shown by the app's router: the replay is read again each time (reviews change it). */
  async show(): Promise<void> {
    const result = await getTuning();
    if (!result.ok) {
      this.error.textContent = result.error;
      return;
    }
    this.error.textContent = '';
    this.report = result.value;
    this.input.value = String(result.value.current);
    this.render();
  }

  private chosen(): number | null {
    const value = this.input.valueAsNumber;
    return Number.isFinite(value) && value >= -1 && value <= 1 ? value : null;
  }

  private async apply(): Promise<void> {
    const value = this.chosen();
    if (value === null) {
      this.error.textContent = 'minSimilarity must be a number from -1 to 1';
      return;
    }
    const result = await applyTuning(value);
    if (!result.ok) {
      this.error.textContent = result.error;
      return;
    }
    this.error.textContent = '';
    this.report = result.value;
    this.render();
  }

  private render(): void {
    const report = this.report;
    if (!report) return;
    const source = { tuned: 'applied here', config: 'from the config file', calibrated: "the model's calibrated threshold" }[report.source];
    this.summary.replaceChildren(
      h('span', { 'data-testid': 'tuning-current' }, `minSimilarity in force: ${report.current.toFixed(3)}`),
      ` (${source}; the ${report.matcher} matcher serves). `,
      `${report.confirmed} reviewed face(s) with a person, ${report.rejected} wrongly named.`,
    );
    const chosen = this.chosen();
    const atChosen = chosen === null ? undefined : nearest(report.points, chosen);
    this.preview.textContent =
      chosen === null || !atChosen
        ? 'Choose a value from -1 to 1.'
        : `At ${atChosen.minSimilarity.toFixed(2)}: ${atChosen.confirmedKept} of ${report.confirmed} kept (${percent(atChosen.confirmedKept, report.confirmed)}), ` +
          `${atChosen.rejectedRefused} of ${report.rejected} wrong names refused (${percent(atChosen.rejectedRefused, report.rejected)}).`;
    if (report.confirmed + report.rejected === 0) {
      this.chart.replaceChildren(
        h('p', { class: 'muted', 'data-testid': 'tuning-empty' }, 'No reviewed events yet: confirm, reject or relabel events on the Events page, and the curve appears here.'),
      );
      return;
    }
    this.chart.replaceChildren(this.curve(report, chosen));
  }

  private curve(report: TuningReport, chosen: number | null): SVGSVGElement {
    const points = report.points;
    const xs = points.map((p) => p.minSimilarity);
    const low = Math.min(...xs);
    const high = Math.max(...xs);
    const x = (value: number) => PAD.left + ((value - low) / (high - low || 1)) * (WIDTH - PAD.left - PAD.right);
    const y = (share: number) => HEIGHT - PAD.bottom - share * (HEIGHT - PAD.top - PAD.bottom);
    const line = (share: (p: TuningPoint) => number) => points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.minSimilarity).toFixed(1)},${y(share(p)).toFixed(1)}`).join(' ');
    const kept = (p: TuningPoint) => (report.confirmed > 0 ? p.confirmedKept / report.confirmed : 0);
    const refused = (p: TuningPoint) => (report.rejected > 0 ? p.rejectedRefused / report.rejected : 0);
    const chart = svg('svg', {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      class: 'tuning-svg',
      role: 'img',
      'aria-label': 'Faces kept and wrong names refused by minSimilarity',
      'data-testid': 'tuning-curve',
    });
    for (const share of [0, 0.5, 1]) {
      chart.append(
        svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(share), y2: y(share), class: 'tuning-grid' }),
        svg('text', { x: PAD.left - 6, y: y(share) + 4, 'text-anchor': 'end', class: 'tuning-axis' }, `${share * 100}%`),
      );
    }
    for (const tick of xs.filter((_, i) => i % 5 === 0)) {
      chart.append(svg('text', { x: x(tick), y: HEIGHT - PAD.bottom + 16, 'text-anchor': 'middle', class: 'tuning-axis' }, tick.toFixed(1)));
    }
    chart.append(svg('text', { x: (PAD.left + WIDTH - PAD.right) / 2, y: HEIGHT - 4, 'text-anchor': 'middle', class: 'tuning-axis' }, 'minSimilarity'));
    if (report.confirmed > 0) chart.append(svg('path', { d: line(kept), class: 'tuning-kept', 'data-testid': 'tuning-kept' }, svg('title', {}, 'faces named right')));
    if (report.rejected > 0) chart.append(svg('path', { d: line(refused), class: 'tuning-refused', 'data-testid': 'tuning-refused' }, svg('title', {}, 'wrong names refused')));
    const marker = (value: number, cls: string, label: string) =>
      svg('g', { class: cls }, svg('line', { x1: x(value), x2: x(value), y1: PAD.top, y2: HEIGHT - PAD.bottom }), svg('text', { x: x(value) + 4, y: PAD.top + 10 }, label));
    if (report.current >= low && report.current <= high) chart.append(marker(report.current, 'tuning-current', 'in force'));
    if (chosen !== null && chosen !== report.current && chosen >= low && chosen <= high) chart.append(marker(chosen, 'tuning-chosen', 'chosen'));
    return chart;
  }
}
