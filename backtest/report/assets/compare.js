/* index-engine compare: NAV and drawdown overlays of several runs.
   Reads the runs from <script id="compare-data">; plotly.js is embedded before this file. */
(function () {
  "use strict";
  var RUNS = JSON.parse(document.getElementById("compare-data").textContent);
  var FONT = 'system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif';
  var COLORS = ["#1f4fd1", "#e8830c", "#15803d", "#c0262d", "#8b5cf6", "#0e9f8f", "#d94f8a", "#5b6474"];
  var CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };
  function h(v) { return String(v).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function layout(yaxis) {
    return { font: { family: FONT, size: 12, color: "#172033" }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
             margin: { l: 64, r: 16, t: 8, b: 36 }, hovermode: "x unified", hoverlabel: { namelength: -1 },
             xaxis: { type: "date", gridcolor: "#eef1f5", linecolor: "#cfd6e2", hoverformat: "%Y-%m-%d" },
             yaxis: yaxis, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" } };
  }
  function drawdown(arr) {
    var peak = -Infinity;
    return arr.map(function (v) { if (v == null) return null; if (v > peak) peak = v; return v / peak - 1; });
  }
  function run() {
    var perf = RUNS.map(function (r, i) {
      return { x: r.dates, y: r.nav.map(function (v) { return v == null ? null : v * 1000 / r.initial_nav; }), name: h(r.label),
               type: "scatter", mode: "lines", line: { color: COLORS[i % COLORS.length], width: i ? 1.4 : 2.2 },
               hovertemplate: "%{y:,.0f}" };
    });
    var dd = RUNS.map(function (r, i) {
      return { x: r.dates, y: drawdown(r.nav), name: h(r.label), type: "scatter", mode: "lines", showlegend: false,
               line: { color: COLORS[i % COLORS.length], width: i ? 1 : 1.6 }, hovertemplate: "%{y:.1%}" };
    });
    var grid = { gridcolor: "#eef1f5", linecolor: "#cfd6e2" };
    Promise.all([
      Plotly.newPlot("chart-perf", perf, layout(Object.assign({ type: "log", dtick: "D2", tickformat: ",.0f", title: { text: "growth of 1,000 (log)" } }, grid)), CONFIG),
      Plotly.newPlot("chart-dd", dd, layout(Object.assign({ tickformat: ".0%", title: { text: "drawdown" } }, grid)), CONFIG)
    ]).then(function () { document.body.setAttribute("data-charts", "ready"); },
      function (e) { document.body.setAttribute("data-charts", "error"); throw e; });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run); else run();
})();
