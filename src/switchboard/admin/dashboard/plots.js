// The dashboard's time-series charts, on the vendored uPlot (vendor/, loaded by the page as
// the global `uPlot` before this module): a time window on x that the page's range selector
// sets, a y axis from 0, and uPlot's cursor and legend for the values under the mouse.

const HEIGHT = 180;

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

// Colours live in style.css with the rest of the theme.
function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

const FALLBACK_COLOURS = ["#1c64d6", "#e8590c", "#7048e8"];

export class TimeChart {
  /**
   * @param {HTMLElement} container  the chart's box (it gets the plot and its legend)
   * @param {{series: {label: string, width?: number, dash?: number[]}[], minMax?: number,
   *          unit?: string}} options
   *   minMax: smallest top of the y axis, so a flat zero line is not drawn as noise at
   *   the top of a 0..0.0001 scale. width, dash: a series' line (a wide one under a
   *   dashed one stays visible where the two are equal). unit: after legend values.
   */
  constructor(container, options) {
    this.container = container;
    this.minMax = options.minMax ?? 1;
    /** Seconds of samples shown, ending at the newest one. */
    this.rangeSeconds = 300;
    const unit = options.unit ? ` ${options.unit}` : "";
    const legendValue = (u, v) => (v == null ? "\u2013" : `${compactNumber(v)}${unit}`);
    const series = [
      {},
      ...options.series.map((s, i) => {
        const colour = cssVar(`--series-${i + 1}`, FALLBACK_COLOURS[i % FALLBACK_COLOURS.length]);
        return {
          label: s.label,
          stroke: colour,
          width: s.width ?? 2,
          dash: s.dash,
          points: { show: false },
          spanGaps: false,
          value: legendValue,
        };
      }),
    ];
    const grid = { stroke: cssVar("--grid", "#edf0f4"), width: 1 };
    const axisText = cssVar("--muted", "#7b8794");
    this.plot = new uPlot(
      {
        width: this._width(),
        height: HEIGHT,
        series,
        scales: {
          x: { time: true, range: (u, min, max) => this._xRange(min, max) },
          y: { range: (u, min, max) => [0, max > this.minMax ? max * 1.1 : this.minMax] },
        },
        axes: [
          { stroke: axisText, grid, ticks: grid },
          {
            stroke: axisText,
            grid,
            ticks: grid,
            size: 48,
            values: (u, ticks) => ticks.map(compactNumber),
          },
        ],
        cursor: { drag: { x: false, y: false }, points: { size: 6 } },
        legend: { live: true },
      },
      [[], ...options.series.map(() => [])],
      container,
    );
    // The tests (and a curious operator's console) reach the chart through its box.
    container.chart = this;
    this._resize = new ResizeObserver(() => {
      const width = this._width();
      if (width && width !== this.plot.width) this.plot.setSize({ width, height: HEIGHT });
    });
    this._resize.observe(container);
  }

  _width() {
    return Math.max(200, Math.floor(this.container.clientWidth || 320));
  }

  // The window ends at the newest sample (the server's clock, not the browser's) and
  // spans the selected range, however few samples there are yet.
  _xRange(min, max) {
    const end = max ?? Date.now() / 1000;
    return [end - this.rangeSeconds, end];
  }

  /** `times`: Unix seconds; `columns`: one array per series (null: not measured). */
  setData(times, columns) {
    const start = times.length ? times[times.length - 1] - this.rangeSeconds : 0;
    const first = times.findIndex((t) => t >= start);
    const from = first < 0 ? times.length : first;
    // batch: drawn now, not in a microtask, so what the page shows is what it was given.
    this.plot.batch(() => this.plot.setData([times.slice(from), ...columns.map((c) => c.slice(from))]));
  }
}
