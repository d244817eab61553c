/* Availability charts of the object detail page, drawn with the vendored Chart.js from the
 * numbers the server embeds with json_script (#availability-data).
 *
 * The server-rendered percentages and SVG bars stay in the page for screen readers and
 * readers without JavaScript: a window's SVG is hidden only once its chart is drawn, so a
 * failure here leaves the SVG. The section is outside the in-place refreshed part
 * (#live-detail), so it is drawn once per page load and htmx never touches it.
 * Colours come from Bootstrap's CSS variables and are re-read when the theme switches.
 */
(function () {
  "use strict";

  const root = document.getElementById("availability");
  const source = document.getElementById("availability-data");
  if (!root || !source || typeof window.Chart === "undefined") return;
  const Chart = window.Chart;
  const windows = JSON.parse(source.textContent);
  if (!windows.length) return;
  const lang = document.documentElement.lang || undefined;
  // The reader's zone (their profile's, else the site's), as the server-rendered times use.
  const timeZone = root.dataset.timeZone || undefined;

  // Purple has no Bootstrap variable: the section defines its own (used by the SVG too).
  const VARIABLES = {
    ok: "--bs-success",
    warning: "--bs-warning",
    critical: "--bs-danger",
    down: "--bs-danger",
    unknown: "--availability-unknown",
    unreachable: "--availability-unknown",
    nodata: "--bs-secondary-bg",
  };
  const css = (name) => getComputedStyle(root).getPropertyValue(name).trim();
  const colour = (severity) => css(VARIABLES[severity] || VARIABLES.unknown);
  const percent = (value) =>
    value.toLocaleString(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + "%";
  const when = (ms, options) => new Date(ms).toLocaleString(lang, { timeZone, ...options });
  const HOUR_MINUTE = { hour: "2-digit", minute: "2-digit" };
  const DAY = { day: "numeric", month: "short" };
  const FULL = { weekday: "short", day: "numeric", month: "short", ...HOUR_MINUTE, timeZoneName: "short" };
  const HOUR_MS = 3600 * 1000;
  const DAY_MS = 24 * HOUR_MS;
  const charts = [];

  // A canvas in a sized box (Chart.js fills its parent), placed after `anchor`.
  function canvasAfter(anchor, height, label) {
    const box = document.createElement("div");
    box.className = "availability-chart";
    box.style.position = "relative";
    box.style.height = height;
    const canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", label);
    box.append(canvas);
    anchor.after(box);
    return canvas;
  }

  // Text, grid and state colours of the current theme, on a chart or on its config before it
  // is drawn (set from the start, so Chart.js never picks its own palette).
  function paint(chart) {
    chart.options.color = css("--bs-body-color");
    for (const scale of Object.values(chart.options.scales)) {
      scale.ticks.color = css("--bs-secondary-color");
      scale.grid.color = css("--bs-border-color-translucent");
    }
    for (const dataset of chart.data.datasets) {
      dataset.backgroundColor = Array.isArray(dataset.severity)
        ? dataset.severity.map(colour)
        : colour(dataset.severity);
    }
  }

  function draw(canvas, config) {
    paint(config);
    const chart = new Chart(canvas, config);
    charts.push(chart);
    return chart;
  }

  // Ticks on round hours or days (from the epoch, so UTC ones) rather than at the window's ends.
  function roundTicks(scale, span) {
    const step = span <= 24 * HOUR_MS ? 3 * HOUR_MS : span <= 7 * DAY_MS ? DAY_MS : 5 * DAY_MS;
    const ticks = [];
    for (let value = Math.ceil(scale.min / step) * step; value <= scale.max; value += step) {
      ticks.push({ value });
    }
    scale.ticks = ticks;
  }

  // (a) Percent per state, one 100% stacked bar per window.
  const summary = canvasAfter(
    source,
    `${3 + 2.25 * windows.length}rem`,
    gettext("Availability per window, percent of the time in each state"),
  );
  summary.id = "availability-chart";
  draw(summary, {
    type: "bar",
    data: {
      labels: windows.map((w) => interpolate(gettext("Last %(name)s"), { name: w.name }, true)),
      datasets: windows[0].percent.map((state, index) => ({
        label: state.label,
        severity: state.severity,
        data: windows.map((w) => w.percent[index].value),
      })),
    },
    options: {
      indexAxis: "y",
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true, min: 0, max: 100, ticks: { callback: (value) => value + "%" }, grid: {} },
        y: { stacked: true, ticks: {}, grid: {} },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${percent(ctx.raw)}` } },
      },
    },
  });
  summary.parentElement.classList.add("mb-3");

  // (b) Each window's state timeline: floating bars over epoch milliseconds.
  for (const figure of root.querySelectorAll("figure[data-window]")) {
    const w = windows.find((item) => item.name === figure.dataset.window);
    const svg = figure.querySelector("svg.availability-timeline");
    if (!w || !svg) continue;
    const span = w.end_ms - w.start_ms;
    const canvas = canvasAfter(svg, "3.25rem", svg.getAttribute("aria-label"));
    canvas.className = "availability-timeline-chart";
    draw(canvas, {
      type: "bar",
      data: {
        labels: [w.name],
        datasets: [
          {
            label: w.name,
            severity: w.segments.map((s) => s.severity),
            data: w.segments.map((s) => ({ x: [s.start_ms, s.end_ms], y: w.name })),
            // Seconds of a month would be invisible: a sliver, as the SVG draws it.
            minBarLength: 2,
            barPercentage: 1,
            categoryPercentage: 1,
          },
        ],
      },
      options: {
        indexAxis: "y",
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: {
            type: "linear",
            min: w.start_ms,
            max: w.end_ms,
            afterBuildTicks: (scale) => roundTicks(scale, span),
            ticks: { maxRotation: 0, callback: (ms) => when(ms, span <= DAY_MS ? HOUR_MINUTE : DAY) },
            grid: {},
          },
          y: { display: false, ticks: {}, grid: {} },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: () => "",
              label: (ctx) => {
                const s = w.segments[ctx.dataIndex];
                return `${s.label}: ${when(s.start_ms, FULL)} – ${when(s.end_ms, FULL)}`;
              },
            },
          },
        },
      },
    });
    svg.classList.add("d-none");
  }

  // The theme switch (portal/theme.js) sets data-bs-theme on <html>: repaint in its colours.
  new MutationObserver(() => {
    for (const chart of charts) {
      paint(chart);
      chart.update("none");
    }
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-bs-theme"] });
})();
