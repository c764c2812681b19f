/* A traffic page: vehicles per hour and lane, kept live. */
"use strict";
(function () {
  const V = window.Verbund;
  const t = V.t;
  const data = V.data;
  const chart = document.getElementById("chart");
  const laneLabel = function (lane, n) {
    let text = t.lane + " " + (lane.laneId !== null && lane.laneId !== undefined ? lane.laneId : n + 1);
    if (lane.laneDirection) text += " (" + (t[lane.laneDirection] || lane.laneDirection) + ")";
    return text;
  };
  const legend = function () {
    let list = document.getElementById("lane-legend");
    if (!list) {
      list = V.el("ul", { id: "lane-legend", class: "legend", "aria-label": t.legend });
      chart.after(list);
    }
    list.textContent = "";
    data.series.lanes.forEach((lane, n) => {
      const item = V.el("li");
      item.append(V.el("span", { class: "lane-key lane-" + (n % 4), "aria-hidden": "true" }), document.createTextNode(laneLabel(lane, n)));
      list.append(item);
    });
  };
  const draw = function () { V.barChart(chart, "chart-caption", data.series, laneLabel); legend(); };
  const refresh = V.debounce(async function () {
    const fresh = await V.getJSON("/api/m/" + data.tenant + "/traffic", { id: data.sensor.id, range: data.series.range });
    data.series = fresh.series;
    draw();
  }, 500);
  draw();
  V.live(data.tenant, {
    sensor: function (s) {
      const tr = document.querySelector('#lanes tr[data-id="' + CSS.escape(s.id) + '"]');
      if (!tr) return;
      tr.querySelector(".value").textContent = V.number(s.value, 0);
      tr.querySelector(".observed").textContent = V.when(s.observedAt);
      V.flash(tr);
      refresh();
    },
    snapshot: refresh,
  });
})();
