/* The list of active alerts, reloaded when an alert changes. */
"use strict";
(function () {
  const V = window.Verbund;
  const t = V.t;
  const data = V.data;
  const reload = V.debounce(async function () {
    const params = data.tenant ? { tenant: data.tenant } : {};
    const fresh = await V.getJSON("/api/alerts", params);
    const tbody = document.querySelector("#alert-table tbody");
    tbody.textContent = "";
    for (const a of fresh.alerts) {
      const tr = V.el("tr", { "data-id": a.id });
      const severity = V.el("td");
      severity.append(V.el("span", { class: "badge severity-" + a.severity }, t[a.severity] || a.severity));
      tr.append(severity, V.el("td", {}, a.category + (a.subCategory ? " / " + a.subCategory : "")),
        V.el("td", {}, a.description));
      if (!data.tenant) {
        const cell = V.el("td");
        cell.append(V.el("a", { href: V.url("/m/" + a.tenant) }, a.tenant));
        tr.append(cell);
      }
      tr.append(V.el("td", {}, V.when(a.dateIssued)), V.el("td", {}, a.validTo ? V.when(a.validTo) : "\u2013"),
        V.el("td", {}, a.alertSource));
      tbody.append(tr);
    }
    if (!fresh.alerts.length) {
      const tr = V.el("tr", { class: "empty" });
      tr.append(V.el("td", { colspan: "7" }, t.no_alerts));
      tbody.append(tr);
    }
    document.getElementById("alert-count").textContent = String(fresh.alerts.length);
  }, 300);
  V.live(data.tenant, { alert: reload, deleted: reload, snapshot: reload });
})();
