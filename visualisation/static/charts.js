/* Our own SVG charts: a level line with its alert and danger bands, and hourly bars per lane. */
"use strict";
(function () {
  const V = window.Verbund;
  const NS = "http://www.w3.org/2000/svg";
  const W = 800, H = 320, M = { left: 60, right: 20, top: 16, bottom: 40 };
  const PW = W - M.left - M.right, PH = H - M.top - M.bottom;

  const svgEl = function (tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const frame = function (container, caption) {
    container.textContent = "";
    const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": caption,
      preserveAspectRatio: "xMidYMid meet" });
    container.append(svg);
    return svg;
  };
  const niceTicks = function (lo, hi, count) {
    const span = hi - lo;
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => span / s <= count) || mag * 10;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
    return { ticks: ticks, step: step };
  };
  const yAxis = function (svg, y, lo, hi, unit) {
    const g = svgEl("g", { class: "axis y" });
    const nice = niceTicks(lo, hi, 5);
    const digits = Math.max(0, -Math.floor(Math.log10(nice.step)));
    for (const v of nice.ticks) {
      g.append(svgEl("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }));
      g.append(svgEl("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end" }, V.number(v, Math.min(digits, 2))));
    }
    g.append(svgEl("text", { x: 12, y: M.top + PH / 2, transform: "rotate(-90 12 " + (M.top + PH / 2) + ")",
      "text-anchor": "middle" }, unit || ""));
    g.append(svgEl("line", { x1: M.left, x2: M.left, y1: M.top, y2: M.top + PH }));
    svg.append(g);
  };
  const timeAxis = function (svg, x, start, end) {
    const g = svgEl("g", { class: "axis x" });
    const span = end - start;
    const hour = 3600e3, day = 24 * hour;
    const step = span <= 2 * day ? 3 * hour : span <= 8 * day ? day : 5 * day;
    const offset = new Date(start).getTimezoneOffset() * 60e3;
    let tick = Math.ceil((start - offset) / step) * step + offset;
    for (; tick <= end; tick += step) {
      const d = new Date(tick);
      const text = step < day
        ? d.toLocaleTimeString(V.locale, { hour: "2-digit", minute: "2-digit" })
        : d.toLocaleDateString(V.locale, { day: "2-digit", month: "2-digit" });
      g.append(svgEl("line", { x1: x(tick), x2: x(tick), y1: M.top + PH, y2: M.top + PH + 5 }));
      g.append(svgEl("text", { x: x(tick), y: M.top + PH + 20, "text-anchor": "middle" }, text));
    }
    g.append(svgEl("line", { x1: M.left, x2: W - M.right, y1: M.top + PH, y2: M.top + PH }));
    svg.append(g);
  };
  const empty = function (svg) {
    svg.append(svgEl("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, V.t.no_data));
  };

  /* Water level: series.points are [time, value] (every instance) or [start, end, avg, min, max]. */
  V.levelChart = function (container, caption, series, sensor) {
    const svg = frame(container, caption);
    svg.append(svgEl("title", {}, document.getElementById(caption).textContent));
    const start = Date.parse(series.start), end = Date.parse(series.end);
    const aggregated = series.period !== null;
    const pts = series.points.map((p) => aggregated
      ? { t: (Date.parse(p[0]) + Date.parse(p[1])) / 2, v: p[2], lo: p[3], hi: p[4] }
      : { t: Date.parse(p[0]), v: p[1], lo: p[1], hi: p[1] });
    const alert = sensor.alertLevel, danger = sensor.dangerLevel;
    let lo = Math.min(...pts.map((p) => p.lo)), hi = Math.max(...pts.map((p) => p.hi));
    if (!pts.length) { lo = alert !== null ? alert * 0.5 : 0; hi = 1; }
    for (const level of [alert, danger]) if (level !== null) { lo = Math.min(lo, level); hi = Math.max(hi, level); }
    if (danger !== null) hi = Math.max(hi, danger + (hi - lo) * 0.15);
    else if (alert !== null) hi = Math.max(hi, alert + (hi - lo) * 0.15);
    if (hi - lo < 1e-6) { lo -= 0.5; hi += 0.5; }
    const pad = (hi - lo) * 0.05;
    lo -= pad; hi += pad;
    const x = (t) => M.left + ((t - start) / Math.max(1, end - start)) * PW;
    const y = (v) => M.top + PH - ((v - lo) / (hi - lo)) * PH;
    yAxis(svg, y, lo, hi, sensor.unit);
    timeAxis(svg, x, start, end);
    const bands = svgEl("g", { class: "bands" });
    if (alert !== null) {
      const top = danger !== null ? danger : hi;
      bands.append(svgEl("rect", { class: "band band-alert", x: M.left, width: PW, y: y(top), height: y(alert) - y(top) }));
      bands.append(svgEl("line", { class: "line-alert", x1: M.left, x2: W - M.right, y1: y(alert), y2: y(alert) }));
      bands.append(svgEl("text", { class: "threshold-label", x: W - M.right - 4, y: y(alert) - 4, "text-anchor": "end" },
        V.t.alert_level + " " + V.number(alert)));
    }
    if (danger !== null) {
      bands.append(svgEl("rect", { class: "band band-danger", x: M.left, width: PW, y: y(hi), height: y(danger) - y(hi) }));
      bands.append(svgEl("line", { class: "line-danger", x1: M.left, x2: W - M.right, y1: y(danger), y2: y(danger) }));
      bands.append(svgEl("text", { class: "threshold-label", x: W - M.right - 4, y: y(danger) - 4, "text-anchor": "end" },
        V.t.danger_level + " " + V.number(danger)));
    }
    svg.append(bands);
    if (!pts.length) { empty(svg); return svg; }
    // a silence of more than three typical spacings (and at least two hours: coarser archived data
    // beside frequent live data is no silence) breaks the line; a lone value is drawn as a dot
    const gaps = pts.slice(1).map((p, i) => p.t - pts[i].t).sort((a, b) => a - b);
    const typical = gaps.length ? gaps[Math.floor(gaps.length / 2)] : 0;
    const silence = Math.max(3 * typical, 2 * 3600e3);
    const segments = [[]];
    pts.forEach((p, i) => {
      if (i && p.t - pts[i - 1].t > silence) segments.push([]);
      segments[segments.length - 1].push(p);
    });
    for (const seg of segments) {
      if (seg.length === 1) svg.append(svgEl("circle", { class: "lone", cx: x(seg[0].t), cy: y(seg[0].v), r: 2.5 }));
    }
    if (aggregated) {
      for (const seg of segments) {
        const upper = seg.map((p) => x(p.t).toFixed(1) + "," + y(p.hi).toFixed(1));
        const lower = seg.slice().reverse().map((p) => x(p.t).toFixed(1) + "," + y(p.lo).toFixed(1));
        svg.append(svgEl("polygon", { class: "series-range", points: upper.concat(lower).join(" ") }));
      }
    }
    const d = segments.map((seg) => seg.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.v).toFixed(1)).join(""))
      .join("");
    svg.append(svgEl("path", { class: "series", d: d, "data-points": String(pts.length) }));
    const last = pts[pts.length - 1];
    svg.append(svgEl("circle", { class: "last", cx: x(last.t), cy: y(last.v), r: 4 }));
    return svg;
  };

  /* Traffic: hourly sums per lane as grouped bars. */
  V.barChart = function (container, caption, series, laneLabel) {
    const svg = frame(container, caption);
    svg.append(svgEl("title", {}, document.getElementById(caption).textContent));
    const hours = series.hours.map((h) => Date.parse(h));
    const lanes = series.lanes;
    const counts = lanes.flatMap((l) => l.counts.filter((c) => c !== null));
    const hi = Math.max(10, ...counts) * 1.1;
    const y = (v) => M.top + PH - (v / hi) * PH;
    const slot = PW / Math.max(1, hours.length);
    const x = (t) => M.left + ((t - hours[0]) / 3600e3) * slot;
    yAxis(svg, y, 0, hi, V.t.per_hour);
    timeAxis(svg, (t) => x(t), hours[0], hours[hours.length - 1] + 3600e3);
    if (!counts.length) { empty(svg); return svg; }
    const width = (slot * 0.8) / Math.max(1, lanes.length);
    lanes.forEach((lane, n) => {
      const g = svgEl("g", { class: "bars lane-" + (n % 4) });
      lane.counts.forEach((c, i) => {
        if (c === null) return;
        const bar = svgEl("rect", { x: (x(hours[i]) + slot * 0.1 + n * width).toFixed(1), width: Math.max(1, width - 0.5).toFixed(1),
          y: y(c).toFixed(1), height: (y(0) - y(c)).toFixed(1), class: "bar lane-" + (n % 4) });
        bar.append(svgEl("title", {}, laneLabel(lane, n) + ", " + new Date(hours[i]).toLocaleString(V.locale,
          { dateStyle: "short", timeStyle: "short" }) + ": " + V.number(c, 0)));
        g.append(bar);
      });
      svg.append(g);
    });
    return svg;
  };
})();
