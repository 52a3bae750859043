/* index-engine report: the transactions log (sort, filter, page, totals, costs per year, CSV). */
(function () {
  "use strict";
  var R = window.REPORT_DATA || JSON.parse(document.getElementById("report-data").textContent);
  var T = R.tx, A = R.assets, N = T.d.length;
  var $ = function (id) { return document.getElementById(id); };
  // escaped for innerHTML; control characters shown as their Unicode pictures (as charts.js)
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };
  function h(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return ESC[c]; }).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g,
      function (c) { var k = c.charCodeAt(0); return String.fromCharCode(k === 127 ? 0x2421 : 0x2400 + k); });
  }
  // every cost column of transactions.parquet: payload key, label
  var COSTS = [["f", "fee"], ["pf", "platform fee"], ["sl", "slippage"], ["g", "gas"]];
  var state = { key: "d", dir: 1, page: 0, size: 50, rows: null, order: null };

  function fmt(v, d) {
    if (v == null) return "–";
    var s = v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
    return /^-[0.,]*$/.test(s) ? s.slice(1) : s;  // never a negative zero
  }
  function plural(n, one, many) { return n.toLocaleString("en-US") + " " + (n === 1 ? one : many); }
  function cost(v) { return v == null ? "–" : v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(2) : fmt(v, 2); }
  function sig(v) {
    if (v == null) return "–";
    var a = Math.abs(v);
    return a >= 1000 ? fmt(v, 2) : a >= 1 ? fmt(v, 4) : v === 0 ? "0" : v.toPrecision(6);
  }
  function text(col, i) {
    if (col === "a") return A.sym[T.a[i]];
    if (col === "r") return T.reasons[T.r[i]];
    return T[col][i];
  }

  function sortOrder() {
    var key = state.key, dir = state.dir, col = T[key], idx = new Array(N);
    for (var i = 0; i < N; i++) idx[i] = i;
    var str = key === "a" || key === "r";
    idx.sort(function (x, y) {
      var a = str ? text(key, x) : col[x], b = str ? text(key, y) : col[y];
      if (a === b) return x - y;
      if (a == null) return 1;
      if (b == null) return -1;
      return (a < b ? -1 : 1) * dir;
    });
    state.order = idx;
  }

  function filters() {
    var from = $("tx-from").value, to = $("tx-to").value, asset = $("tx-asset").value.trim().toLowerCase();
    var reason = $("tx-reason").value, side = $("tx-side").value;
    var lo = 0, hi = T.dates.length - 1;
    if (from) { while (lo < T.dates.length && T.dates[lo] < from) lo++; }
    if (to) { while (hi >= 0 && T.dates[hi] > to) hi--; }
    var match = null;
    if (asset) {
      var exact = {}, any = false, part = {};
      for (var j = 0; j < A.id.length; j++) {
        var id = A.id[j].toLowerCase(), sym = A.sym[j].toLowerCase();
        if (id === asset || sym === asset) { exact[j] = true; any = true; }
        if (id.indexOf(asset) >= 0 || sym.indexOf(asset) >= 0) part[j] = true;
      }
      match = any ? exact : part;
    }
    return { lo: lo, hi: hi, match: match, reason: reason === "" ? -1 : T.reasons.indexOf(reason),
             side: side === "" ? -1 : side === "buy" ? 1 : 0 };
  }

  function apply() {
    var f = filters(), out = [];
    for (var k = 0; k < N; k++) {
      var i = state.order[k];
      if (T.d[i] < f.lo || T.d[i] > f.hi) continue;
      if (f.match && !f.match[T.a[i]]) continue;
      if (f.reason >= 0 && T.r[i] !== f.reason) continue;
      if (f.side >= 0 && T.s[i] !== f.side) continue;
      out.push(i);
    }
    state.rows = out;
    state.page = 0;
    totals();
    years();
    page();
  }

  // count, notional and each cost column summed over rows, and their total
  function sums(rows) {
    var s = { n: 0, notional: 0, total: 0 };
    COSTS.forEach(function (c) { s[c[0]] = 0; });
    rows.forEach(function (i) { add(s, i); });
    return s;
  }
  function add(s, i) {
    s.n++; s.notional += T.n[i];
    COSTS.forEach(function (c) { s[c[0]] += T[c[0]][i]; s.total += T[c[0]][i]; });
  }
  function totals() {
    var s = sums(state.rows);
    $("tx-totals").innerHTML =
      '<span><b id="tx-count">' + s.n.toLocaleString("en-US") + "</b> of " + plural(N, "order", "orders") + "</span>" +
      "<span>notional <b>$" + fmt(s.notional, 0) + "</b></span>" +
      COSTS.map(function (c) { return "<span>" + c[1] + " <b>$" + fmt(s[c[0]], 2) + "</b></span>"; }).join("") +
      "<span>total costs <b>$" + fmt(s.total, 2) + "</b>" +
      (s.notional ? " (" + fmt(s.total / s.notional * 1e4, 2) + " bp of notional)" : "") + "</span>";
  }
  function years() {
    var by = {};
    state.rows.forEach(function (i) {
      var y = T.dates[T.d[i]].slice(0, 4);
      add(by[y] || (by[y] = sums([])), i);
    });
    var keys = Object.keys(by).sort(), all = sums(state.rows);
    var row = function (label, s, tag) {
      return "<tr><" + tag + ">" + label + "</" + tag + "><td>" + s.n.toLocaleString("en-US") + "</td><td>$" + fmt(s.notional, 0) +
        "</td>" + COSTS.map(function (c) { return "<td>$" + fmt(s[c[0]], 2) + "</td>"; }).join("") + "<td><b>$" +
        fmt(s.total, 2) + "</b></td><td>" + (s.notional ? fmt(s.total / s.notional * 1e4, 2) : "–") + "</td></tr>";
    };
    $("tx-years").tBodies[0].innerHTML = keys.map(function (y) { return row(y, by[y], "th"); }).join("") +
      (keys.length > 1 ? row("all", all, "th") : "");
  }
  function page() {
    var rows = state.rows, size = state.size, pages = Math.max(1, Math.ceil(rows.length / size));
    state.page = Math.max(0, Math.min(pages - 1, state.page));
    var a = state.page * size, b = Math.min(rows.length, a + size), html = [];
    for (var k = a; k < b; k++) {
      var i = rows[k], side = T.s[i] ? "buy" : "sell";
      html.push('<tr><td class="l">' + T.dates[T.d[i]] + '</td><td class="l" title="' + h(A.id[T.a[i]]) + '">' + h(A.sym[T.a[i]]) +
        '</td><td class="l ' + side + '">' + side + "</td><td>" + sig(T.q[i]) + "</td><td>" + sig(T.p[i]) + "</td><td>" +
        fmt(T.n[i], 2) + "</td>" + COSTS.map(function (c) { return "<td>" + cost(T[c[0]][i]) + "</td>"; }).join("") +
        '<td class="l">' + h(T.reasons[T.r[i]].replace(/_/g, " ")) + "</td></tr>");
    }
    $("tx-table").tBodies[0].innerHTML = html.join("") ||
      '<tr><td colspan="11" class="l muted">No transaction matches the filters.</td></tr>';
    $("tx-page").textContent = rows.length ? (a + 1).toLocaleString("en-US") + "–" + b.toLocaleString("en-US") + " of " +
      rows.length.toLocaleString("en-US") : "0 rows";
  }

  function csv() {
    // the columns of transactions.parquet, in its order
    var head = "date,asset_id,symbol,side,quantity,price,notional,fee,slippage,gas,reason,platform_fee\n";
    var body = state.rows.map(function (i) {
      return [T.dates[T.d[i]], A.id[T.a[i]], A.sym[T.a[i]], T.s[i] ? "buy" : "sell", T.q[i], T.p[i], T.n[i], T.f[i],
              T.sl[i], T.g[i], T.reasons[T.r[i]], T.pf[i]].map(function (v) {
        return /[",\r\n]/.test(String(v)) ? '"' + String(v).replace(/"/g, '""') + '"' : v;
      }).join(",");
    }).join("\n");
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([head + body + "\n"], { type: "text/csv" }));
    a.download = "transactions_filtered.csv";
    document.body.appendChild(a); a.click(); a.remove();
  }

  function setup() {
    if (T.dates.length) {
      ["tx-from", "tx-to"].forEach(function (id) { $(id).min = T.dates[0]; $(id).max = T.dates[T.dates.length - 1]; });
    }
    var syms = {};
    T.a.forEach(function (a) { syms[A.sym[a]] = true; });
    $("tx-assets").innerHTML = Object.keys(syms).sort().map(function (s) { return '<option value="' + h(s) + '">'; }).join("");
    $("tx-reason").innerHTML += T.reasons.map(function (r) { return '<option value="' + h(r) + '">' + h(r.replace(/_/g, " ")) + "</option>"; }).join("");
    ["tx-from", "tx-to", "tx-asset", "tx-reason", "tx-side"].forEach(function (id) {
      $(id).addEventListener("input", apply); $(id).addEventListener("change", apply);
    });
    $("tx-reset").addEventListener("click", function () { $("tx-filters").reset(); apply(); });
    $("tx-csv").addEventListener("click", csv);
    $("tx-prev").addEventListener("click", function () { state.page--; page(); });
    $("tx-next").addEventListener("click", function () { state.page++; page(); });
    $("tx-size").addEventListener("change", function () { state.size = +$("tx-size").value; state.page = 0; page(); });
    Array.prototype.forEach.call($("tx-table").tHead.rows[0].cells, function (th) {
      th.addEventListener("click", function () {
        var k = th.getAttribute("data-k");
        state.dir = state.key === k ? -state.dir : (k === "d" || k === "a" || k === "s" || k === "r" ? 1 : -1);
        state.key = k;
        Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.classList.remove("asc", "desc"); });
        th.classList.add(state.dir > 0 ? "asc" : "desc");
        sortOrder(); apply();
      });
    });
    $("tx-table").tHead.rows[0].cells[0].classList.add("asc");
    sortOrder();
    apply();
    document.body.setAttribute("data-tx", "ready");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup); else setup();
})();
