// Any thread (pure). A small SVG generator for latency percentile curves: x is the percentile on a log "nines"
// axis (90% → 1, 99% → 2, 99.9% → 3 …), y is latency. Used by `make bench` and by `legate bench --html`.

/** One curve: [percentile in 0..100, latency in microseconds] pairs, percentiles ascending. */
export interface PercentileSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface PercentilePanel {
  readonly title: string;
  readonly series: readonly PercentileSeries[];
}

export interface PlotOptions {
  readonly title?: string;
  readonly panelWidth?: number;
  readonly panelHeight?: number;
  readonly columns?: number;
}

const PALETTE: readonly string[] = [
  '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22',
];
const MAX_NINES = 6;
const MARGIN_LEFT = 64;
const MARGIN_RIGHT = 16;
const MARGIN_TOP = 28;
const MARGIN_BOTTOM = 40;
const LEGEND_ROW = 18;

/** -log10(1 - p/100): 0 at p0, 1 at p90, 2 at p99. Infinity at p100. */
export function percentileToNines(percentile: number): number {
  if (percentile >= 100) return Infinity;
  return -Math.log10(1 - percentile / 100);
}

export function ninesToPercentile(nines: number): number {
  return 100 * (1 - Math.pow(10, -nines));
}

/**
 * Percentiles to sample for a curve from `count` recorded values: evenly spaced in nines (step 0.1) up to the
 * last percentile the sample size can resolve (1 - 1/count), capped at 99.9999.
 */
export function curvePercentiles(count: number): number[] {
  const limit = Math.min(MAX_NINES, count > 1 ? Math.log10(count) : 1);
  const out: number[] = [];
  for (let tenth = 0; tenth <= Math.floor(limit * 10 + 1e-9); tenth++) {
    out.push(Number(ninesToPercentile(tenth / 10).toPrecision(8)));
  }
  return out;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A percentile label for the nines axis: 0 → "0%", 2 → "99%", 3 → "99.9%". */
export function ninesLabel(nines: number): string {
  if (nines === 0) return '0%';
  if (nines === 1) return '90%';
  return `99${nines > 2 ? '.' + '9'.repeat(nines - 2) : ''}%`;
}

/** Latency label from microseconds, in the unit that reads best. */
export function formatLatencyUs(us: number): string {
  if (us >= 1_000_000) return `${trim(us / 1_000_000)} s`;
  if (us >= 1000) return `${trim(us / 1000)} ms`;
  return `${trim(us)} µs`;
}

function trim(v: number): string {
  return Number(v.toPrecision(3)).toString();
}

interface YScale {
  readonly log: boolean;
  readonly min: number;
  readonly max: number;
  readonly ticks: number[];
}

function niceStep(range: number, target: number): number {
  const raw = range / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

/** Linear when the curves span less than 30×, else log10 (a tail spike would flatten everything else). */
function yScale(minUs: number, maxUs: number): YScale {
  const lo = Math.max(minUs, 1);
  const hi = Math.max(maxUs, lo * 1.01);
  if (hi / lo < 30) {
    const step = niceStep(hi, 5);
    const top = Math.ceil(hi / step) * step;
    const ticks: number[] = [];
    for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
    return { log: false, min: 0, max: top, ticks };
  }
  const loExp = Math.floor(Math.log10(lo));
  const hiExp = Math.ceil(Math.log10(hi));
  const ticks: number[] = [];
  for (let e = loExp; e <= hiExp; e++) ticks.push(Math.pow(10, e));
  return { log: true, min: Math.pow(10, loExp), max: Math.pow(10, hiExp), ticks };
}

function fmt(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/** Renders panels (one per scenario) in a grid, with one shared legend; a series keeps its colour everywhere. */
export function renderPercentilePlot(panels: readonly PercentilePanel[], options: PlotOptions = {}): string {
  const panelW = options.panelWidth ?? 560;
  const panelH = options.panelHeight ?? 340;
  const columns = Math.max(1, Math.min(options.columns ?? 2, panels.length));
  const rows = Math.max(1, Math.ceil(panels.length / columns));

  const names: string[] = [];
  for (const panel of panels) {
    for (const s of panel.series) if (!names.includes(s.name)) names.push(s.name);
  }
  const width = panelW * columns;
  const legendPerRow = Math.max(1, Math.floor(width / 190));
  const legendRows = Math.ceil(names.length / legendPerRow);
  const headerH = (options.title !== undefined ? 30 : 8) + legendRows * LEGEND_ROW + 6;
  const height = headerH + rows * panelH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  let y0 = 8;
  if (options.title !== undefined) {
    out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`);
    y0 = 30;
  }
  for (let i = 0; i < names.length; i++) {
    const lx = 16 + (i % legendPerRow) * 190;
    const ly = y0 + Math.floor(i / legendPerRow) * LEGEND_ROW + 12;
    const color = PALETTE[i % PALETTE.length]!;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 28}" y="${ly}">${escapeXml(names[i]!)}</text>`);
  }
  for (let p = 0; p < panels.length; p++) {
    const ox = (p % columns) * panelW;
    const oy = headerH + Math.floor(p / columns) * panelH;
    renderPanel(out, panels[p]!, names, ox, oy, panelW, panelH);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function renderPanel(
  out: string[],
  panel: PercentilePanel,
  names: readonly string[],
  ox: number,
  oy: number,
  w: number,
  h: number,
): void {
  const plotX = ox + MARGIN_LEFT;
  const plotY = oy + MARGIN_TOP;
  const plotW = w - MARGIN_LEFT - MARGIN_RIGHT;
  const plotH = h - MARGIN_TOP - MARGIN_BOTTOM;

  let minUs = Infinity;
  let maxUs = 0;
  let maxNines = 1;
  for (const s of panel.series) {
    for (const [pct, us] of s.points) {
      const n = percentileToNines(pct);
      if (!Number.isFinite(n) || !Number.isFinite(us)) continue;
      if (n > maxNines) maxNines = n;
      if (us > 0 && us < minUs) minUs = us;
      if (us > maxUs) maxUs = us;
    }
  }
  const xMax = Math.min(MAX_NINES, Math.ceil(maxNines - 1e-9));
  if (!Number.isFinite(minUs)) minUs = 1;
  if (maxUs === 0) maxUs = 1;
  const scale = yScale(minUs, maxUs);
  const xOf = (nines: number): number => plotX + (Math.min(nines, xMax) / xMax) * plotW;
  const yOf = (us: number): number => {
    if (scale.log) {
      const v = Math.max(us, scale.min);
      const f = (Math.log10(v) - Math.log10(scale.min)) / (Math.log10(scale.max) - Math.log10(scale.min));
      return plotY + plotH - f * plotH;
    }
    return plotY + plotH - (us / scale.max) * plotH;
  };

  out.push(`<g>`);
  out.push(`<text x="${ox + w / 2}" y="${oy + 18}" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`);
  out.push(`<rect x="${plotX}" y="${plotY}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  for (let n = 0; n <= xMax; n++) {
    const x = fmt(xOf(n));
    out.push(`<line x1="${x}" y1="${plotY}" x2="${x}" y2="${plotY + plotH}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${plotY + plotH + 16}" text-anchor="middle">${ninesLabel(n)}</text>`);
  }
  out.push(`<text x="${plotX + plotW / 2}" y="${plotY + plotH + 32}" text-anchor="middle" fill="#555">percentile</text>`);
  for (const t of scale.ticks) {
    const y = fmt(yOf(t));
    out.push(`<line x1="${plotX}" y1="${y}" x2="${plotX + plotW}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${plotX - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatLatencyUs(t)}</text>`);
  }
  out.push(
    `<text x="${ox + 14}" y="${plotY + plotH / 2}" text-anchor="middle" fill="#555" ` +
      `transform="rotate(-90 ${ox + 14} ${plotY + plotH / 2})">latency${scale.log ? ' (log)' : ''}</text>`,
  );
  for (const s of panel.series) {
    const color = PALETTE[names.indexOf(s.name) % PALETTE.length]!;
    const coords: string[] = [];
    for (const [pct, us] of s.points) {
      const n = percentileToNines(pct);
      if (!Number.isFinite(n) || !Number.isFinite(us) || n > xMax + 1e-9) continue;
      coords.push(`${fmt(xOf(n))},${fmt(yOf(us))}`);
    }
    if (coords.length === 0) continue;
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round" points="${coords.join(' ')}">` +
        `<title>${escapeXml(s.name)}</title></polyline>`,
    );
  }
  out.push(`</g>`);
}
