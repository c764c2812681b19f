/* A gauge page: the chart of the chosen period, the current value, state and trend, kept live. */
"use strict";
(function () {
  const V = window.Verbund;
  const t = V.t;
  const data = V.data;
  const chart = document.getElementById("chart");
  const draw = () => V.levelChart(chart, "chart-caption", data.series, data.sensor);
  const trendText = function (trend, unit) {
    let text = t[trend.direction];
    if (trend.perHour !== null && trend.perHour !== undefined) {
      const cm = unit === "m";
      const rate = cm ? trend.perHour * 100 : trend.perHour;
      text += " (" + (rate > 0 ? "+" : "") + V.number(rate, cm ? 1 : 2) + " " + (cm ? "cm" : unit) + "/h)";
    }
    return text;
  };
  const show = function (s) {
    const value = document.getElementById("current-value");
    value.textContent = V.number(s.value);
    const state = document.getElementById("current-state");
    state.className = "badge state-" + s.state;
    state.textContent = t[s.state];
    document.getElementById("current-observed").textContent = V.when(s.observedAt);
    V.flash(document.getElementById("reading"));
  };
  const refresh = V.debounce(async function () {
    const fresh = await V.getJSON("/api/m/" + data.tenant + "/series", { id: data.sensor.id, range: data.series.range });
    data.series = fresh.series;
    data.trend = fresh.trend;
    document.getElementById("trend").textContent = trendText(fresh.trend, data.sensor.unit);
    draw();
  }, 500);

  draw();
  V.live(data.tenant, {
    sensor: function (s) {
      if (s.id !== data.sensor.id) return;
      data.sensor = s;
      show(s);
      if (data.series.period === null && s.observedAt && s.value !== null) {
        const last = data.series.points[data.series.points.length - 1];
        if (!last || Date.parse(last[0]) < Date.parse(s.observedAt)) {
          data.series.points.push([s.observedAt, s.value]);
          data.series.end = new Date().toISOString();
        }
      }
      draw();
      refresh();
    },
    snapshot: refresh,
  });
})();
