// breachline report tables: render, sort, filter and page the grids embedded as JSON.
// No network, no libraries. Cell text is set with textContent, never parsed as HTML.
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("case-data").textContent);
  var S = data.S, T0 = data.T0, TU = data.TU, grids = {}, ranks = null;

  function iso(v) {
    var s = new Date(T0 + v * TU).toISOString();
    return s.slice(-5) === ".000Z" ? s.slice(0, -5) + "Z" : s;
  }
  function show(kind, v) {
    if (v === null) return "";
    if (kind === "s") return S[v];
    if (kind === "t") return iso(v);
    return String(v);
  }
  // Which strings contain the query, computed once per query for every grid.
  var hitsFor = "", hits = null;
  function stringHits(q) {
    if (q !== hitsFor || hits === null) {
      hits = new Uint8Array(S.length);
      for (var i = 0; i < S.length; i++) if (S[i].toLowerCase().indexOf(q) >= 0) hits[i] = 1;
      hitsFor = q;
    }
    return hits;
  }

  // Strings come most used first; sorting by text uses their rank in text order.
  function rank() {
    if (ranks === null) {
      var order = S.map(function (_, i) { return i; });
      order.sort(function (a, b) { return S[a] < S[b] ? -1 : S[a] > S[b] ? 1 : 0; });
      ranks = new Int32Array(S.length);
      order.forEach(function (s, r) { ranks[s] = r; });
    }
    return ranks;
  }

  function Grid(el, g) {
    var self = this;
    if (g.delta >= 0) {
      // Times written as differences from the row before: back to offsets.
      var acc = 0;
      g.rows.forEach(function (r) { if (r[g.delta] !== null) { acc += r[g.delta]; r[g.delta] = acc; } });
    }
    this.g = g; this.el = el; this.view = null; this.pageNo = 0; this.sortCol = -1; this.sortDir = 1;
    this.all = new Array(g.rows.length);
    for (var i = 0; i < g.rows.length; i++) this.all[i] = i;
    this.view = this.all.slice();
    var bar = document.createElement("div"); bar.className = "bar";
    this.input = document.createElement("input"); this.input.type = "search"; this.input.placeholder = "filter rows";
    this.count = document.createElement("span");
    this.prev = document.createElement("button"); this.prev.textContent = "\u25C0 previous";
    this.next = document.createElement("button"); this.next.textContent = "next \u25B6";
    this.pageLabel = document.createElement("span");
    bar.appendChild(this.input); bar.appendChild(this.count);
    if (g.rows.length > g.page) { bar.appendChild(this.prev); bar.appendChild(this.pageLabel); bar.appendChild(this.next); }
    var scroll = document.createElement("div"); scroll.className = "scroll";
    var table = document.createElement("table"), thead = document.createElement("thead"), tr = document.createElement("tr");
    this.ths = [];
    g.cols.forEach(function (name, c) {
      var th = document.createElement("th"); th.textContent = name; th.title = "sort";
      th.addEventListener("click", function () { self.sort(c); });
      tr.appendChild(th); self.ths.push(th);
    });
    thead.appendChild(tr); table.appendChild(thead);
    this.tbody = document.createElement("tbody"); table.appendChild(this.tbody);
    scroll.appendChild(table); el.appendChild(bar); el.appendChild(scroll);
    var timer = null;
    this.input.addEventListener("input", function () {
      clearTimeout(timer); timer = setTimeout(function () { self.filter(self.input.value); }, 150);
    });
    this.prev.addEventListener("click", function () { self.go(self.pageNo - 1); });
    this.next.addEventListener("click", function () { self.go(self.pageNo + 1); });
    this.render();
  }
  Grid.prototype.matches = function (row, q, h, times, numbers) {
    var kinds = this.g.kinds;
    for (var c = 0; c < row.length; c++) {
      var v = row[c], k = kinds[c];
      if (v === null) continue;
      if (k === "s") { if (h[v]) return true; }
      else if ((k === "t" ? times : numbers) && show(k, v).toLowerCase().indexOf(q) >= 0) return true;
    }
    return false;
  };
  Grid.prototype.filter = function (text) {
    var q = text.trim().toLowerCase(), rows = this.g.rows;
    if (q === "") this.view = this.all.slice();
    else {
      // Times and numbers are turned into text only when the query could be part of one:
      // a million ISO conversions per keystroke is what makes a big table slow.
      var times = (TU === 1 ? /^[0-9:.tz-]+$/ : /^[0-9:tz-]+$/).test(q), numbers = /^[0-9]+$/.test(q);
      var h = stringHits(q), out = [];
      for (var i = 0; i < rows.length; i++) if (this.matches(rows[i], q, h, times, numbers)) out.push(i);
      this.view = out;
    }
    if (this.sortCol >= 0) this.applySort();
    this.pageNo = 0; this.render();
  };
  Grid.prototype.sort = function (c) {
    this.sortDir = this.sortCol === c ? -this.sortDir : 1; this.sortCol = c;
    this.applySort(); this.pageNo = 0; this.render();
  };
  Grid.prototype.applySort = function () {
    var rows = this.g.rows, c = this.sortCol, d = this.sortDir;
    var r = this.g.kinds[c] === "s" ? rank() : null;
    this.view.sort(function (a, b) {
      var x = rows[a][c], y = rows[b][c];
      if (r !== null) { x = x === null ? null : r[x]; y = y === null ? null : r[y]; }
      if (x === y) return a - b;
      if (x === null) return -d;
      if (y === null) return d;
      return (x < y ? -1 : 1) * d;
    });
    var self = this;
    this.ths.forEach(function (th, i) {
      if (i === c) th.setAttribute("aria-sort", self.sortDir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
  };
  Grid.prototype.go = function (p) {
    var pages = Math.max(1, Math.ceil(this.view.length / this.g.page));
    this.pageNo = Math.min(Math.max(p, 0), pages - 1); this.render();
  };
  Grid.prototype.render = function () {
    var g = this.g, start = this.pageNo * g.page, end = Math.min(this.view.length, start + g.page);
    var frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) {
      var row = g.rows[this.view[k]], tr = document.createElement("tr");
      if (g.mark >= 0) {
        var mv = row[g.mark];
        if (mv !== null && (g.kinds[g.mark] === "s" ? S[mv] !== "" : mv !== 0)) tr.className = "atk";
      }
      for (var c = 0; c < row.length; c++) {
        var td = document.createElement("td"); td.className = g.kinds[c];
        td.textContent = show(g.kinds[c], row[c]); tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    this.tbody.textContent = ""; this.tbody.appendChild(frag);
    var pages = Math.max(1, Math.ceil(this.view.length / g.page));
    this.count.textContent = (this.view.length === g.rows.length ? g.rows.length + " rows" : this.view.length + " of " + g.rows.length + " rows");
    this.pageLabel.textContent = "page " + (this.pageNo + 1) + " of " + pages;
    this.prev.disabled = this.pageNo === 0; this.next.disabled = this.pageNo >= pages - 1;
    this.el.setAttribute("data-shown", String(this.view.length));
  };

  try {
    var els = document.querySelectorAll("div.grid[data-grid]");
    for (var i = 0; i < els.length; i++) {
      var id = els[i].getAttribute("data-grid");
      if (data.grids[id]) grids[id] = new Grid(els[i], data.grids[id]);
    }
    // "#filter=GRID:TEXT" applies a filter on load (links in a ticket, and the browser test).
    var m = /^#filter=([^:]+):(.*)$/.exec(location.hash);
    if (m && grids[decodeURIComponent(m[1])]) {
      var grid = grids[decodeURIComponent(m[1])], q = decodeURIComponent(m[2]);
      grid.input.value = q; grid.filter(q);
      grid.el.scrollIntoView();
      var out = document.createElement("output"); out.id = "selftest";
      out.setAttribute("data-grid", m[1]);
      out.setAttribute("data-total", String(grid.g.rows.length));
      out.setAttribute("data-shown", String(grid.view.length));
      out.setAttribute("data-rendered", String(grid.tbody.rows.length));
      document.body.appendChild(out);
    }
    document.body.setAttribute("data-grids", String(Object.keys(grids).length));
    document.body.setAttribute("data-init-ms", String(Math.round(performance.now() - started)));
  } catch (e) {
    var pre = document.createElement("pre"); pre.id = "js-error"; pre.textContent = String(e && e.stack || e);
    document.body.insertBefore(pre, document.body.firstChild);
  }
})();
