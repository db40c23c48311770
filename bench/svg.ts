/**
 * The frontier chart as a self-contained SVG (no plotting dependency): one panel per trace, VM-hours on x, overload
 * minutes on y; the project's policy as a curve over its knob, each baseline as a labelled marker.
 */

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
  readonly label: string;
}

export interface Panel {
  readonly title: string;
  /** The project's sweep, in knob order. */
  readonly curve: readonly ChartPoint[];
  /** The project's default setting (drawn over the curve). */
  readonly highlight?: ChartPoint;
  readonly baselines: readonly (ChartPoint & {
    readonly color: string;
    readonly shape: "square" | "triangle" | "diamond" | "cross";
  })[];
}

const W = 560;
const H = 400;
const M = { left: 70, right: 20, top: 36, bottom: 52 };
const CURVE = "#1f6fb5";

export function frontierSvg(panels: readonly Panel[], columns = 2): string {
  const rows = Math.ceil(panels.length / columns);
  const legendH = 70;
  const width = W * columns;
  const height = H * rows + legendH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  panels.forEach((panel, i) => {
    const ox = (i % columns) * W;
    const oy = Math.floor(i / columns) * H;
    parts.push(drawPanel(panel, ox, oy));
  });
  parts.push(drawLegend(panels[0]?.baselines ?? [], 0, H * rows + 10));
  parts.push("</svg>");
  return parts.join("\n");
}

function drawPanel(panel: Panel, ox: number, oy: number): string {
  const all = [...panel.curve, ...panel.baselines, ...(panel.highlight ? [panel.highlight] : [])];
  const xs = niceRange(Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x)));
  // Square-root scale on y: overloads span from a few minutes to thousands, and the small ones matter most.
  const ys = sqrtRange(Math.max(1, ...all.map((p) => p.y)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => ox + M.left + ((x - xs.min) / (xs.max - xs.min)) * pw;
  const sy = (y: number) => oy + M.top + ph - Math.sqrt(Math.max(0, y) / ys.max) * ph;
  const out: string[] = [];
  out.push(
    `<text x="${ox + W / 2}" y="${oy + 20}" text-anchor="middle" font-size="14" font-weight="bold">${esc(panel.title)}</text>`,
  );
  // Grid and ticks.
  for (const t of xs.ticks) {
    out.push(`<line x1="${sx(t)}" y1="${sy(ys.min)}" x2="${sx(t)}" y2="${sy(ys.max)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${sx(t)}" y="${sy(ys.min) + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ys.ticks) {
    out.push(`<line x1="${sx(xs.min)}" y1="${sy(t)}" x2="${sx(xs.max)}" y2="${sy(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${sx(xs.min) - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${sx(xs.min)}" y="${sy(ys.max)}" width="${pw}" height="${ph}" fill="none" stroke="#555"/>`);
  out.push(`<text x="${ox + M.left + pw / 2}" y="${oy + H - 14}" text-anchor="middle">VM-hours (cost) →</text>`);
  out.push(
    `<text x="${ox + 18}" y="${oy + M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 ${ox + 18} ${oy + M.top + ph / 2})">overload minutes (√ scale) →</text>`,
  );
  // The project's curve.
  const path = panel.curve.map((p, i) => `${i === 0 ? "M" : "L"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
  out.push(`<path d="${path}" fill="none" stroke="${CURVE}" stroke-width="2"/>`);
  for (const p of panel.curve) {
    out.push(
      `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${CURVE}"><title>${esc(p.label)}</title></circle>`,
    );
    out.push(
      `<text x="${(sx(p.x) + 4).toFixed(1)}" y="${(sy(p.y) - 5).toFixed(1)}" font-size="10" fill="${CURVE}">${esc(p.label)}</text>`,
    );
  }
  if (panel.highlight) {
    const h = panel.highlight;
    out.push(
      `<circle cx="${sx(h.x).toFixed(1)}" cy="${sy(h.y).toFixed(1)}" r="7" fill="none" stroke="${CURVE}" stroke-width="2.5"><title>${esc(h.label)}</title></circle>`,
    );
  }
  for (const b of panel.baselines) out.push(marker(b.shape, sx(b.x), sy(b.y), b.color, b.label));
  return out.join("\n");
}

function drawLegend(baselines: Panel["baselines"], ox: number, oy: number): string {
  const out: string[] = [];
  let x = ox + 20;
  const y = oy + 16;
  out.push(`<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${CURVE}" stroke-width="2"/>`);
  out.push(`<circle cx="${x + 12}" cy="${y}" r="3" fill="${CURVE}"/>`);
  out.push(`<text x="${x + 30}" y="${y + 4}">os-scaler proportional, labelled by target %</text>`);
  x += 330;
  out.push(`<circle cx="${x + 8}" cy="${y}" r="7" fill="none" stroke="${CURVE}" stroke-width="2.5"/>`);
  out.push(`<text x="${x + 22}" y="${y + 4}">its default</text>`);
  let bx = ox + 20;
  const by = oy + 44;
  for (const b of baselines) {
    out.push(marker(b.shape, bx + 8, by, b.color, b.label));
    out.push(`<text x="${bx + 22}" y="${by + 4}">${esc(b.label)}</text>`);
    bx += 24 + b.label.length * 7;
  }
  return out.join("\n");
}

function marker(shape: string, x: number, y: number, color: string, label: string): string {
  const t = `<title>${esc(label)}</title>`;
  const s = 6;
  switch (shape) {
    case "square":
      return `<rect x="${(x - s).toFixed(1)}" y="${(y - s).toFixed(1)}" width="${2 * s}" height="${2 * s}" fill="${color}">${t}</rect>`;
    case "triangle":
      return `<polygon points="${x},${y - s - 1} ${x - s - 1},${y + s} ${x + s + 1},${y + s}" fill="${color}">${t}</polygon>`;
    case "diamond":
      return `<polygon points="${x},${y - s - 2} ${x - s - 2},${y} ${x},${y + s + 2} ${x + s + 2},${y}" fill="${color}">${t}</polygon>`;
    default:
      return `<path d="M${x - s},${y - s} L${x + s},${y + s} M${x - s},${y + s} L${x + s},${y - s}" stroke="${color}" stroke-width="3">${t}</path>`;
  }
}

/** A square-root axis from 0: a round maximum and ticks at round values at least 16 px apart (on a 312 px axis). */
export function sqrtRange(hi: number): { min: number; max: number; ticks: number[] } {
  const nice = [1, 2, 5];
  const candidates: number[] = [0];
  for (let mag = 1; mag <= 1e7; mag *= 10) for (const f of nice) candidates.push(f * mag);
  const max = candidates.find((c) => c >= hi) ?? hi;
  const ticks: number[] = [];
  let lastPx = -Infinity;
  for (const c of candidates.filter((x) => x <= max)) {
    const px = Math.sqrt(c / max) * 312;
    if (px - lastPx >= 16) {
      ticks.push(c);
      lastPx = px;
    }
  }
  return { min: 0, max, ticks };
}

/** An axis range padded to round numbers, with 4–8 ticks. */
export function niceRange(lo: number, hi: number): { min: number; max: number; ticks: number[] } {
  if (!(hi > lo)) {
    const pad = Math.abs(hi) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const span = hi - lo;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => span / s <= 7) ?? 10 * mag;
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = min; t <= max + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { min, max, ticks };
}

function fmt(n: number): string {
  return Math.abs(n) >= 10_000 ? `${Math.round(n / 1000)}k` : String(Number(n.toPrecision(6)));
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
