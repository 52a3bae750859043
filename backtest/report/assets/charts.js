/* index-engine report: charts (performance, drawdown, regime signal, holdings treemap, weights).
   Reads the run's data from <script id="report-data">; plotly.js is embedded before this file. */
(function () {
  "use strict";
  var R = JSON.parse(document.getElementById("report-data").textContent);
  window.REPORT_DATA = R;
  var FONT = 'system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif';
  var BEAR_FILL = "rgba(192,38,45,0.09)";
  var COLORS = { net: "#1f4fd1", gross: "#7f9be6", bench: ["#e8830c", "#5b6474", "#8b5cf6", "#0e9f8f", "#d94f8a"] };
  var CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };

  // Formatting as backtest/formatting.py: "–" for missing values, never a negative zero.
  function fixed(v, d) {
    var s = v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
    return /^-[0.,]*$/.test(s) ? s.slice(1) : s;
  }
  function pct(v, d) { return v == null ? "–" : fixed(v * 100, d == null ? 1 : d) + "%"; }
  function spct(v, d) { return v == null ? "–" : (fixed(v * 100, d == null ? 1 : d).charAt(0) === "-" ? "" : "+") + pct(v, d); }
  function money(v) {  // compact: $40.11M; $999,999.999 is $1.00M
    if (v == null) return "–";
    var a = Math.abs(v), u = [[1, ""], [1e3, "K"], [1e6, "M"], [1e9, "B"], [1e12, "T"]], k = 0;
    while (k + 1 < u.length && a >= u[k + 1][0]) k++;
    if (k + 1 < u.length && +(a / u[k][0]).toFixed(2) >= 1000) k++;
    var s = (a / u[k][0]).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return (v < 0 && s !== "0.00" ? "-$" : "$") + s + u[k][1];
  }
  function plural(n, one, many) { return n.toLocaleString("en-US") + " " + (n === 1 ? one : many); }
  // Text for innerHTML and for plotly labels (which read HTML tags and entities): escaped, and
  // control characters shown as their Unicode pictures (NUL → ␀), as the server-side templates do.
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };
  function h(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return ESC[c]; }).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g,
      function (c) { var k = c.charCodeAt(0); return String.fromCharCode(k === 127 ? 0x2421 : 0x2400 + k); });
  }

  function baseLayout(extra) {
    var l = {
      font: { family: FONT, size: 12, color: "#172033" }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      margin: { l: 64, r: 16, t: 8, b: 36 }, hovermode: "x unified", hoverlabel: { namelength: -1 },
      xaxis: { type: "date", gridcolor: "#eef1f5", linecolor: "#cfd6e2", hoverformat: "%Y-%m-%d" },
      yaxis: { gridcolor: "#eef1f5", linecolor: "#cfd6e2", zeroline: false },
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", bgcolor: "rgba(255,255,255,0)" },
      shapes: bearShapes()
    };
    for (var k in extra) l[k] = extra[k];
    return l;
  }
  function bearShapes() {
    return R.bear.map(function (s) {
      return { type: "rect", xref: "x", yref: "paper", x0: s[0], x1: s[1], y0: 0, y1: 1, fillcolor: BEAR_FILL,
               line: { width: 0 }, layer: "below" };
    });
  }
  function bearLegend() {
    return { x: [null], y: [null], type: "scatter", mode: "markers", name: "bear regime", hoverinfo: "skip",
             marker: { symbol: "square", size: 12, color: "rgba(192,38,45,0.3)" } };
  }
  function compact(v) {
    var u = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (var i = 0; i < u.length; i++) if (v >= u[i][0]) return "$" + +(v / u[i][0]).toPrecision(3) + u[i][1];
    return "$" + +v.toPrecision(3);
  }
  function logTicks(arrays, fmt, most) {
    var lo = Infinity, hi = -Infinity;
    arrays.forEach(function (a) { a.forEach(function (v) { if (v != null && v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    if (!isFinite(lo)) return {};
    var sets = [[1, 1.5, 2, 3, 5, 7], [1, 2, 3, 5], [1, 2, 5], [1, 3], [1]], vals = [];
    for (var s = 0; s < sets.length; s++) {
      vals = [];
      for (var e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
        sets[s].forEach(function (m) { var v = +(m * Math.pow(10, e)).toPrecision(3); if (v >= lo / 1.1 && v <= hi * 1.1) vals.push(v); });
      }
      if (vals.length <= (most || 9)) break;
    }
    return { tickvals: vals, ticktext: vals.map(fmt) };
  }
  function scale(arr, k) { return arr.map(function (v) { return v == null ? null : v * k; }); }
  function drawdown(arr) {
    var peak = -Infinity;
    return arr.map(function (v) { if (v == null) return null; if (v > peak) peak = v; return v / peak - 1; });
  }

  // ----------------------------------------------------------------------------- performance
  function series() {
    var out = [{ name: "Index NAV (net)", values: R.nav, base: R.initial_nav, color: COLORS.net, width: 2.2, usd: true }];
    if (R.level) out.push({ name: "Index level (gross)", values: R.level, base: 1000, color: COLORS.gross, width: 1.3, dash: "dot" });
    R.bench.forEach(function (b, i) {
      out.push({ name: h(b.label) + " (net)", values: b.nav, base: R.initial_nav, color: COLORS.bench[i % COLORS.bench.length],
                 width: 1.3, usd: true });
    });
    return out;
  }
  function drawPerformance() {
    var ys = series().map(function (s) { return scale(s.values, 1000 / s.base); });
    var ticks = logTicks(ys, function (v) {
      return v >= 1e9 ? +(v / 1e9).toPrecision(3) + "B" : v >= 1e6 ? +(v / 1e6).toPrecision(3) + "M" :
        v >= 1e4 ? +(v / 1e3).toPrecision(3) + "K" : v.toLocaleString("en-US");
    });
    var traces = series().map(function (s, i) {
      return { x: R.dates, y: ys[i], customdata: s.values, name: s.name, type: "scatter",
               mode: "lines", line: { color: s.color, width: s.width, dash: s.dash || "solid" },
               hovertemplate: s.usd ? "%{y:,.0f} ($%{customdata:,.0f})" : "%{y:,.0f}" };
    });
    if (R.bear.length) traces.push(bearLegend());
    var p1 = Plotly.newPlot("chart-perf", traces, baseLayout({
      yaxis: { type: "log", gridcolor: "#eef1f5", linecolor: "#cfd6e2", tickvals: ticks.tickvals, ticktext: ticks.ticktext,
               title: { text: "growth of 1,000 (log)" } },
      xaxis: { type: "date", gridcolor: "#eef1f5", linecolor: "#cfd6e2", hoverformat: "%Y-%m-%d",
               rangeselector: { x: 1, xanchor: "right", y: 1.02, yanchor: "bottom", bgcolor: "#eef1f6", activecolor: "#c9d6f2",
                 buttons: [{ count: 1, label: "1y", step: "year", stepmode: "backward" },
                           { count: 3, label: "3y", step: "year", stepmode: "backward" }, { step: "all", label: "all" }] } },
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" }
    }), CONFIG);
    var dds = series().map(function (s) { return drawdown(s.values); });
    var worst = Math.min.apply(null, dds.map(function (d) { return Math.min.apply(null, d.filter(function (v) { return v != null; }).concat([0])); }));
    var dd = series().map(function (s, i) {
      return { x: R.dates, y: dds[i], name: s.name, type: "scatter", mode: "lines", showlegend: false,
               line: { color: s.color, width: i === 0 ? 1.6 : 1, dash: s.dash || "solid" },
               fill: i === 0 ? "tozeroy" : "none", fillcolor: "rgba(31,79,209,0.10)", hovertemplate: "%{y:.1%}" };
    });
    var p2 = Plotly.newPlot("chart-dd", dd, baseLayout({
      yaxis: { tickformat: ".0%", gridcolor: "#eef1f5", linecolor: "#cfd6e2", title: { text: "drawdown" },
               range: [worst * 1.06 - 0.01, 0.04], zeroline: true, zerolinecolor: "#9aa3b2", zerolinewidth: 1 },
      margin: { l: 64, r: 16, t: 6, b: 30 }
    }), CONFIG);
    return Promise.all([p1, p2]);
  }
  function syncX() {
    var ids = ["chart-perf", "chart-dd", "chart-signal", "chart-roll-ret", "chart-roll-vol", "chart-roll-sharpe",
               "chart-roll-beta"].filter(function (id) { return document.getElementById(id).on; });
    var busy = false;
    ids.forEach(function (id) {
      document.getElementById(id).on("plotly_relayout", function (ev) {
        if (busy) return;
        var upd = {};
        if (ev["xaxis.range[0]"] !== undefined) { upd["xaxis.range"] = [ev["xaxis.range[0]"], ev["xaxis.range[1]"]]; }
        else if (ev["xaxis.range"]) { upd["xaxis.range"] = ev["xaxis.range"]; }
        else if (ev["xaxis.autorange"]) { upd["xaxis.autorange"] = true; }
        else return;
        busy = true;
        Promise.all(ids.filter(function (o) { return o !== id; }).map(function (o) { return Plotly.relayout(o, upd); }))
          .then(function () { busy = false; }, function () { busy = false; });
      });
    });
  }

  // ---------------------------------------------------------------------------------- signal
  function drawSignal() {
    var el = document.getElementById("chart-signal");
    if (!R.signal || !R.signal.some(function (v) { return v != null; })) {
      el.classList.remove("chart"); el.style.height = "auto";
      el.innerHTML = '<p class="muted">No regime signal: this index is always invested.</p>';
      return Promise.resolve();
    }
    var share = R.signal_unit === "share", hover = share ? "%{y:.1%}" : "%{y:$,.4s}";
    var yaxis = { gridcolor: "#eef1f5", linecolor: "#cfd6e2" };
    if (share) { yaxis.type = "linear"; yaxis.tickformat = ".0%"; } else {
      var sticks = logTicks([R.signal, R.sma], compact, 6);
      yaxis.type = "log"; yaxis.tickvals = sticks.tickvals; yaxis.ticktext = sticks.ticktext;
    }
    return Plotly.newPlot(el, [
      { x: R.dates, y: R.signal, name: h(R.signal_name), type: "scatter", mode: "lines", line: { color: "#172033", width: 1.4 },
        hovertemplate: hover },
      { x: R.dates, y: R.sma, name: h(R.reference_name), type: "scatter", mode: "lines", line: { color: "#e8830c", width: 1.4 },
        hovertemplate: hover }
    ].concat(R.bear.length ? [bearLegend()] : []), baseLayout({ yaxis: yaxis, margin: { l: 64, r: 16, t: 6, b: 30 } }), CONFIG);
  }

  // --------------------------------------------------------------------------------- treemap
  var H = R.hold, STOPS = [[179, 38, 45], [232, 139, 132], [236, 239, 243], [124, 193, 145], [21, 122, 61]];
  var RANGE = 0.1;
  function niceRange(rows) {
    var a = rows.filter(function (x) { return x.r != null && !x.stable; }).map(function (x) { return Math.abs(x.r); })
      .sort(function (x, y) { return x - y; });
    var q = a.length ? a[Math.floor(0.9 * (a.length - 1))] : 0.1, nice = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5];
    for (var i = 0; i < nice.length; i++) if (q <= nice[i]) return nice[i];
    return 10;
  }
  function retColor(r) {
    if (r == null) return "#9aa3b2";
    var t = (Math.max(-RANGE, Math.min(RANGE, r)) / RANGE + 1) * 2, i = Math.min(3, Math.floor(t)), f = t - i;
    var c = STOPS[i].map(function (v, j) { return Math.round(v + (STOPS[i + 1][j] - v) * f); });
    return "rgb(" + c.join(",") + ")";
  }
  function holdingsAt(k) {
    var rows = [];
    for (var i = H.start[k]; i < H.start[k + 1]; i++) {
      rows.push({ id: R.assets.id[H.a[i]], sym: R.assets.sym[H.a[i]], w: H.w[i], v: H.v[i], r: H.r[i],
                  stable: R.assets.id[H.a[i]] === R.stable_id });
    }
    return rows;
  }
  function drawTreemap(k) {
    var rows = holdingsAt(k), total = rows.reduce(function (s, x) { return s + x.v; }, 0);
    RANGE = niceRange(rows);
    document.getElementById("leg-lo").textContent = "−" + pct(RANGE, 0);
    document.getElementById("leg-hi").textContent = "+" + pct(RANGE, 0);
    var sizes = [12];
    var ids = ["__all__"], labels = [""], parents = [""], values = [0], colors = ["#ffffff"], text = [""], cd = [["", "", ""]];
    rows.forEach(function (x) {
      ids.push(x.id); labels.push(h(x.stable ? x.sym + " (stable)" : x.sym)); parents.push("__all__"); values.push(x.w);
      colors.push(x.stable ? "#6b8fc7" : retColor(x.r)); sizes.push(Math.max(10, Math.min(26, 9 + 60 * Math.sqrt(x.w)))); text.push(pct(x.w, x.w < 0.001 ? 3 : 1));
      cd.push([h(x.id), money(x.v), x.stable ? "stable sleeve" : x.r == null ? "new position" : spct(x.r) + " since previous trade"]);
    });
    var trace = { type: "treemap", ids: ids, labels: labels, parents: parents, values: values, text: text, customdata: cd,
      branchvalues: "remainder", sort: true, pathbar: { visible: false }, tiling: { packing: "squarify", pad: 1 },
      marker: { colors: colors, line: { width: 1, color: "#fff" }, pad: { t: 0, l: 0, r: 0, b: 0 } },
      texttemplate: "<b>%{label}</b><br>%{text}", textposition: "middle center", textfont: { family: FONT, size: sizes },
      hovertemplate: "<b>%{label}</b> · %{customdata[0]}<br>weight %{text}<br>value %{customdata[1]}<br>%{customdata[2]}<extra></extra>" };
    var layout = { margin: { l: 0, r: 0, t: 0, b: 0 }, font: { family: FONT, size: 12 }, paper_bgcolor: "#fff" };
    var el = document.getElementById("chart-treemap");
    var p = el.data ? Plotly.react(el, [trace], layout, CONFIG) : Plotly.newPlot(el, [trace], layout, CONFIG);
    holdingsPanel(k, rows, total);
    return p;
  }
  function holdingsPanel(k, rows, total) {
    var stable = rows.filter(function (x) { return x.stable; }).reduce(function (s, x) { return s + x.w; }, 0);
    var n = rows.filter(function (x) { return !x.stable; }).length;
    document.getElementById("hold-info").innerHTML = "<b>" + H.dates[k] + "</b> · " + h(H.kind[k]) + " · " +
      plural(n, "risk asset", "risk assets") + " · stable sleeve " + pct(stable) + " · portfolio " + money(total);
    document.getElementById("hold-table").tBodies[0].innerHTML = rows.map(function (x, i) {
      return "<tr><td>" + (i + 1) + '</td><td title="' + h(x.id) + '">' + h(x.sym) + "</td><td>" + pct(x.w, 2) + "</td><td>" +
        money(x.v) + "</td><td>" + (x.stable ? "" : x.r == null ? "new" : spct(x.r)) + "</td></tr>";
    }).join("");
    document.getElementById("hold-date").value = String(k);
    document.getElementById("hold-slider").value = String(k);
  }
  function setupHoldings() {
    var sel = document.getElementById("hold-date"), slider = document.getElementById("hold-slider"), last = H.dates.length - 1;
    if (last < 0) {
      document.getElementById("chart-treemap").innerHTML = '<p class="muted">No holdings: the run never traded.</p>';
      return Promise.resolve();
    }
    sel.innerHTML = H.dates.map(function (d, i) { return '<option value="' + i + '">' + d + " · " + h(H.kind[i]) + "</option>"; }).join("");
    slider.max = String(last);
    var go = function (k) { drawTreemap(Math.max(0, Math.min(last, k))); };
    sel.addEventListener("change", function () { go(+sel.value); });
    slider.addEventListener("input", function () { go(+slider.value); });
    document.getElementById("hold-prev").addEventListener("click", function () { go(+sel.value - 1); });
    document.getElementById("hold-next").addEventListener("click", function () { go(+sel.value + 1); });
    return drawTreemap(last);
  }

  // --------------------------------------------------------------------------------- weights
  var PALETTE = ["#1f4fd1", "#e8830c", "#15803d", "#c0262d", "#8b5cf6", "#0e9f8f", "#d94f8a", "#a16207", "#4b5563", "#0284c7"];
  function drawWeights() {
    var W = R.weights;
    if (!W.dates.length) return Promise.resolve();
    var n = W.series.length;
    var traces = W.series.map(function (s, i) {
      var color = i === n - 1 ? "#6b8fc7" : i === n - 2 ? "#c4cad4" : PALETTE[i % PALETTE.length];
      return { x: W.dates, y: s.values, name: h(s.name), stackgroup: "w", type: "scatter", mode: "lines",
               line: { shape: "hv", width: 0.4, color: color }, fillcolor: color, hovertemplate: "%{y:.1%}" };
    });
    var narrow = document.getElementById("chart-weights").clientWidth < 700;  // a phone: the legend goes below
    return Plotly.newPlot("chart-weights", traces, baseLayout({
      shapes: [], yaxis: { tickformat: ".0%", range: [0, 1], gridcolor: "#eef1f5", linecolor: "#cfd6e2" },
      legend: narrow ? { orientation: "h", x: 0, y: -0.12, yanchor: "top", traceorder: "normal" }
                     : { orientation: "v", x: 1.01, y: 1, traceorder: "normal" },
      margin: { l: 56, r: narrow ? 12 : 150, t: 8, b: 36 }
    }), CONFIG);
  }

  // --------------------------------------------------------------------------------- rolling
  function drawRolling() {
    var RO = R.rolling, ids = ["chart-roll-ret", "chart-roll-vol", "chart-roll-sharpe", "chart-roll-beta"];
    var full = RO && RO.ret.some(function (v) { return v != null; });
    if (!full) {
      ids.forEach(function (id, i) {
        var el = document.getElementById(id);
        el.classList.remove("chart"); el.style.height = "auto";
        el.innerHTML = i ? "" : '<p class="muted">Not enough history: the run is shorter than one year.</p>';
      });
      return Promise.resolve();
    }
    var specs = [
      { id: ids[0], y: RO.ret, name: "return", fmt: ".0%", hover: "%{y:.1%}", zero: true },
      { id: ids[1], y: RO.vol, name: "volatility", fmt: ".0%", hover: "%{y:.1%}", zero: false },
      { id: ids[2], y: RO.sharpe, name: "Sharpe", fmt: ".1f", hover: "%{y:.2f}", zero: true },
      { id: ids[3], y: RO.beta, name: "beta", fmt: ".2f", hover: "%{y:.2f}",
        zero: true }
    ];
    return Promise.all(specs.map(function (s) {
      var el = document.getElementById(s.id);
      if (!s.y) { el.classList.remove("chart"); el.style.height = "auto"; el.innerHTML = '<p class="muted">No benchmark: no beta.</p>'; return Promise.resolve(); }
      return Plotly.newPlot(el, [{ x: R.dates, y: s.y, name: s.name, type: "scatter", mode: "lines", showlegend: false,
        line: { color: COLORS.net, width: 1.4 }, hovertemplate: s.hover }], baseLayout({
        yaxis: { tickformat: s.fmt, gridcolor: "#eef1f5", linecolor: "#cfd6e2", zeroline: s.zero, zerolinecolor: "#9aa3b2",
                 title: { text: s.name } },
        margin: { l: 64, r: 12, t: 6, b: 30 }
      }), CONFIG);
    }));
  }

  function run() {
    var jobs = [drawPerformance(), drawSignal(), setupHoldings(), drawWeights(), drawRolling()];
    Promise.all(jobs).then(syncX).then(function () { document.body.setAttribute("data-charts", "ready"); },
      function (e) { document.body.setAttribute("data-charts", "error"); throw e; });
  }
  window.REPORT = { drawTreemap: drawTreemap, retColor: retColor, format: { pct: pct, spct: spct, money: money } };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run); else run();
})();
