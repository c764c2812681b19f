/* The map page: municipality outlines, one marker per sensor coloured (and shaped) by its state, live. */
"use strict";
(function () {
  const V = window.Verbund;
  const t = V.t;
  const data = V.data;
  const GLYPH = { ok: "", alert: "!", danger: "!!", stale: "?", unknown: "" };
  const map = L.map("map", { keyboard: true, attributionControl: Boolean(data.map.tileUrl) });
  if (data.map.tileUrl) {
    L.tileLayer(data.map.tileUrl, { attribution: data.map.tileAttribution || "", maxZoom: 18 }).addTo(map);
  } else {
    const note = V.el("p", { class: "map-note" }, t.tiles_off);
    document.getElementById("map").after(note);
  }
  const outlines = L.featureGroup().addTo(map);
  const markers = L.featureGroup().addTo(map);
  const byKey = new Map();

  for (const area of data.areas) {
    if (!area.area) continue;
    L.geoJSON(area.area, { style: { color: "#12355b", weight: 2, fillColor: "#12355b", fillOpacity: 0.06 },
      interactive: false }).addTo(outlines);
  }

  const key = (s) => s.tenant + " " + s.id;
  const pageOf = function (s) {
    if (s.kind === "gauge") return V.url("/m/" + s.tenant + "/gauges/" + encodeURIComponent(s.id));
    if (s.kind === "traffic") return V.url("/m/" + s.tenant + "/traffic/" + encodeURIComponent(s.id));
    return null;
  };
  const valueText = (s) => V.number(s.value, s.kind === "traffic" ? 0 : 2) + (s.unit ? " " + s.unit : "");
  const title = (s) => s.name + ": " + valueText(s) + " (" + t[s.state] + ")";
  const icon = (s) => L.divIcon({
    className: "marker-icon",
    html: '<span class="marker state-' + s.state + '"><b aria-hidden="true">' + GLYPH[s.state] + "</b></span>",
    iconSize: [22, 22],
  });
  const popup = function (s) {
    const box = V.el("div");
    box.append(V.el("strong", {}, s.name), V.el("br"), document.createTextNode(t[s.kind] + ": " + valueText(s)),
      V.el("br"), document.createTextNode(t.state + ": " + t[s.state]), V.el("br"),
      document.createTextNode(t.observed + ": " + V.when(s.observedAt)));
    const href = pageOf(s);
    if (href) {
      box.append(V.el("br"));
      box.append(V.el("a", { href: href }, t.open));
    }
    return box;
  };
  const label = function (marker, s) {
    const node = marker.getElement();
    if (!node) return;
    node.setAttribute("aria-label", title(s));
    node.title = title(s);
    node.dataset.id = s.id;
    node.dataset.state = s.state;
  };
  const place = function (s) {
    const known = byKey.get(key(s));
    if (s.lat === null || s.lon === null) {
      if (known) { markers.removeLayer(known); byKey.delete(key(s)); }
      return;
    }
    if (known) {
      known.summary = s;
      known.setLatLng([s.lat, s.lon]);
      known.setIcon(icon(s));
      known.setPopupContent(popup(s));
      label(known, s);
      return;
    }
    const marker = L.marker([s.lat, s.lon], { icon: icon(s), title: title(s), keyboard: true, riseOnHover: true });
    marker.summary = s;
    // Leaflet creates the element once the map has a view: name it then
    marker.on("add", function () { label(marker, marker.summary); });
    marker.bindPopup(popup(s));
    marker.addTo(markers);
    byKey.set(key(s), marker);
  };
  const fit = function () {
    const bounds = L.latLngBounds([]);
    if (outlines.getLayers().length) bounds.extend(outlines.getBounds());
    if (markers.getLayers().length) bounds.extend(markers.getBounds());
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 14 });
    else map.setView([49.9, 7.3], 8); // the cluster's region (Rhineland-Palatinate and Saarland)
  };

  const row = function (s) {
    return document.querySelector('#sensor-table tr[data-id="' + CSS.escape(s.id) + '"][data-tenant="' +
      CSS.escape(s.tenant) + '"]');
  };
  const updateRow = function (s) {
    const tr = row(s);
    if (!tr) return false;
    tr.querySelector(".value").textContent = valueText(s);
    const badge = tr.querySelector(".state .badge");
    badge.className = "badge state-" + s.state;
    badge.textContent = t[s.state];
    tr.querySelector(".observed").textContent = V.when(s.observedAt);
    V.flash(tr);
    return true;
  };

  const addRow = function (s) {
    const tbody = document.querySelector("#sensor-table tbody");
    const empty = tbody.querySelector("td[colspan]");
    if (empty) empty.parentElement.remove();
    const tr = V.el("tr", { "data-id": s.id, "data-tenant": s.tenant });
    const name = V.el("th", { scope: "row" });
    const href = pageOf(s);
    name.append(href ? V.el("a", { href: href }, s.name) : document.createTextNode(s.name));
    tr.append(name);
    if (!data.tenant) {
      const cell = V.el("td");
      cell.append(V.el("a", { href: V.url("/m/" + s.tenant) }, s.tenant));
      tr.append(cell);
    }
    const state = V.el("td", { class: "state" });
    state.append(V.el("span", { class: "badge" }));
    tr.append(V.el("td", {}, t[s.kind]), V.el("td", { class: "value" }), state, V.el("td", { class: "observed" }));
    tbody.append(tr);
    updateRow(s);
  };

  for (const s of data.sensors) place(s);
  fit();
  // the outlines are decoration (the page names the municipality in text); Leaflet draws them once the
  // map has its view
  for (const svg of document.querySelectorAll("#map svg")) svg.setAttribute("aria-hidden", "true");

  const reload = async function () {
    const params = data.tenant ? { tenant: data.tenant } : {};
    const fresh = await V.getJSON("/api/sensors", params);
    const keep = new Set(fresh.sensors.map(key));
    for (const [k, marker] of byKey) if (!keep.has(k)) { markers.removeLayer(marker); byKey.delete(k); }
    for (const s of fresh.sensors) { place(s); if (!updateRow(s)) addRow(s); }
  };
  const countAlerts = V.debounce(async function () {
    const params = data.tenant ? { tenant: data.tenant } : {};
    const fresh = await V.getJSON("/api/alerts", params);
    document.getElementById("alert-count").textContent = String(fresh.alerts.length);
  }, 300);

  V.live(data.tenant, {
    sensor: function (s) {
      place(s);
      if (!updateRow(s)) addRow(s);
    },
    deleted: function (d) {
      const k = d.tenant + " " + d.id;
      const marker = byKey.get(k);
      if (marker) { markers.removeLayer(marker); byKey.delete(k); }
      const tr = row(d);
      if (tr) tr.remove();
      countAlerts();
    },
    alert: countAlerts,
    snapshot: function () { reload(); countAlerts(); },
  });
})();
