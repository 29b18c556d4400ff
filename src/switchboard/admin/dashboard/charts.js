// Small canvas line chart for the operator dashboard.
//
// Hand-written instead of a charting library because the admin server must
// serve everything itself (no CDN, no build step) and the dashboard only needs
// time series: a fixed time window on x, an auto-scaled y, one or two series.

const PAD = { top: 10, right: 12, bottom: 22, left: 48 };
const FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

// Rounds a raw step up to 1, 2 or 5 times a power of ten so the y labels are
// numbers a person can read at a glance.
function niceStep(rough) {
  if (!(rough > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  const unit = rough / power;
  const nice = unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10;
  return nice * power;
}

// Short labels keep the left gutter narrow: 1500 -> "1.5k", 0.25 -> "0.25".
export function compactNumber(value) {
  const abs = Math.abs(value);
  if (abs >= 1e9) return trimZeros((value / 1e9).toFixed(1)) + "G";
  if (abs >= 1e6) return trimZeros((value / 1e6).toFixed(1)) + "M";
  if (abs >= 1e4) return trimZeros((value / 1e3).toFixed(0)) + "k";
  if (abs >= 1e3) return trimZeros((value / 1e3).toFixed(1)) + "k";
  if (abs >= 10 || abs === 0) return String(Math.round(value));
  if (abs >= 1) return trimZeros(value.toFixed(1));
  return trimZeros(value.toPrecision(2));
}

function trimZeros(text) {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

function clockLabel(seconds, withSeconds) {
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  const text = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withSeconds ? `${text}:${pad(d.getSeconds())}` : text;
}

// Reads a CSS custom property so colours live in style.css with the rest of
// the theme; the fallback keeps the chart usable if the stylesheet is missing.
function cssVar(element, name, fallback) {
  const value = getComputedStyle(element).getPropertyValue(name).trim();
  return value || fallback;
}

export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{series: {label: string, color?: string, width?: number, dash?: number[]}[],
   *          windowSeconds?: number, minMax?: number, unit?: string}} options
   *   minMax: smallest top of the y axis, so a flat zero line is not drawn as
   *   noise at the top of a 0..0.0001 scale. width, dash: a series' line (a wide
   *   one under a dashed one stays visible where the two are equal).
   */
  constructor(canvas, options) {
    this.canvas = canvas;
    this.series = options.series.map((s, i) => ({
      label: s.label,
      color: s.color || cssVar(canvas, `--series-${i + 1}`, i ? "#e8590c" : "#1c7ed6"),
      width: s.width || 1.75,
      dash: s.dash || [],
    }));
    this.windowSeconds = options.windowSeconds || 300;
    this.minMax = options.minMax ?? 1;
    this.unit = options.unit || "";
    this.times = [];
    this.values = this.series.map(() => []);
    this.renderLegend();
    // Redraw at the new size when the card is resized (responsive grid).
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(canvas);
    canvas.chart = this; // for the browser tests: the chart a canvas shows
  }

  // The legend is HTML next to the canvas rather than painted inside it, so it
  // is selectable, wraps on narrow screens and costs no plot space.
  renderLegend() {
    const legend = document.createElement("div");
    legend.className = "legend";
    for (const s of this.series) {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      // The swatch looks like the line: dashed, or as thick.
      swatch.style.background = s.dash.length
        ? `repeating-linear-gradient(90deg, ${s.color} 0 4px, transparent 4px 6px)`
        : s.color;
      if (s.width > 2) swatch.style.height = `${s.width}px`;
      item.append(swatch, document.createTextNode(s.label));
      legend.append(item);
    }
    this.canvas.before(legend);
  }

  /** times: unix seconds ascending; values: one array per series, null = gap. */
  setData(times, values) {
    this.times = times;
    this.values = values;
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    // Size the backing store in device pixels so lines stay crisp on HiDPI.
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;

    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    if (plotW <= 0 || plotH <= 0) return;

    // The window ends at the newest sample (server clock), not the browser
    // clock, so a skewed client clock cannot push the data off the chart.
    const end = this.times.length ? this.times[this.times.length - 1] : Date.now() / 1000;
    const start = end - this.windowSeconds;
    const x = (t) => PAD.left + ((t - start) / this.windowSeconds) * plotW;

    let top = 0;
    for (const series of this.values) {
      for (let i = 0; i < series.length; i++) {
        const v = series[i];
        if (v != null && Number.isFinite(v) && this.times[i] >= start && v > top) top = v;
      }
    }
    top = Math.max(top, this.minMax);
    const step = niceStep(top / 4);
    top = Math.ceil(top / step) * step;
    const y = (v) => PAD.top + plotH - (v / top) * plotH;

    this.drawAxes(ctx, { width, plotW, plotH, start, end, top, step, x, y });

    const empty = this.times.length === 0;
    if (empty) {
      ctx.fillStyle = cssVar(canvas, "--muted", "#868e96");
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("waiting for data", PAD.left + plotW / 2, PAD.top + plotH / 2);
      return;
    }

    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, plotW, plotH);
    ctx.clip();
    this.series.forEach((s, index) => this.drawSeries(ctx, this.values[index] || [], s, x, y));
    ctx.restore();
  }

  drawAxes(ctx, g) {
    const grid = cssVar(this.canvas, "--grid", "#e9ecef");
    const text = cssVar(this.canvas, "--muted", "#868e96");
    ctx.lineWidth = 1;
    ctx.strokeStyle = grid;
    ctx.fillStyle = text;

    // Horizontal grid lines with y labels.
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = 0; v <= g.top + g.step / 2; v += g.step) {
      const py = Math.round(g.y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(PAD.left, py);
      ctx.lineTo(PAD.left + g.plotW, py);
      ctx.stroke();
      ctx.fillText(compactNumber(v) + this.unit, PAD.left - 6, py);
    }

    // Time ticks on whole minutes (or finer for short windows), as wall clock.
    const tick = this.windowSeconds > 600 ? 300 : this.windowSeconds > 120 ? 60 : 15;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let t = Math.ceil(g.start / tick) * tick; t <= g.end; t += tick) {
      const px = Math.round(g.x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, PAD.top);
      ctx.lineTo(px, PAD.top + g.plotH);
      ctx.stroke();
      const label = clockLabel(t, tick < 60);
      // Skip labels that would be clipped at either edge.
      const half = ctx.measureText(label).width / 2;
      if (px - half >= PAD.left - 4 && px + half <= g.width) {
        ctx.fillText(label, px, PAD.top + g.plotH + 6);
      }
    }
  }

  drawSeries(ctx, values, series, x, y) {
    ctx.strokeStyle = series.color;
    ctx.lineWidth = series.width;
    ctx.setLineDash(series.dash);
    ctx.lineJoin = "round";
    ctx.beginPath();
    let drawing = false;
    let lastX = 0;
    let lastY = 0;
    let segmentPoints = 0;
    for (let i = 0; i < this.times.length; i++) {
      const v = values[i];
      // A null (no messages that second) or a missed second breaks the line
      // instead of drawing a misleading slope across the gap.
      const gap = i > 0 && this.times[i] - this.times[i - 1] > 2.5;
      if (v == null || !Number.isFinite(v)) {
        drawing = false;
        continue;
      }
      const px = x(this.times[i]);
      const py = y(v);
      if (!drawing || gap) {
        this.dotIfLone(ctx, segmentPoints, lastX, lastY);
        ctx.moveTo(px, py);
        drawing = true;
        segmentPoints = 1;
      } else {
        ctx.lineTo(px, py);
        segmentPoints++;
      }
      lastX = px;
      lastY = py;
    }
    ctx.stroke();
    ctx.setLineDash([]);
    this.dotIfLone(ctx, segmentPoints, lastX, lastY);
  }

  // A segment of one point has no length, so stroke() shows nothing; draw a
  // dot so an isolated second with data is still visible.
  dotIfLone(ctx, points, px, py) {
    if (points !== 1) return;
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
  }
}
