/* Shared by every page: labels, formatting, JSON loading and the live event stream. */
"use strict";
(function () {
  const body = document.body;
  const V = (window.Verbund = {});
  V.root = body.dataset.root || "";
  V.lang = body.dataset.lang || "de";
  V.locale = V.lang === "de" ? "de-DE" : "en-GB";
  V.t = JSON.parse(document.getElementById("labels").textContent);
  const dataNode = document.getElementById("data");
  V.data = dataNode ? JSON.parse(dataNode.textContent) : {};
  V.received = 0;

  V.number = function (value, digits) {
    if (value === null || value === undefined) return "\u2013";
    const d = digits === undefined ? 2 : digits;
    return Number(value).toLocaleString(V.locale, { minimumFractionDigits: d, maximumFractionDigits: d });
  };
  V.when = function (iso) {
    if (!iso) return "\u2013";
    return new Date(iso).toLocaleString(V.locale, { dateStyle: "short", timeStyle: "short" });
  };
  V.url = function (path, params) {
    const query = new URLSearchParams(Object.assign({}, params || {}, { lang: V.lang }));
    return V.root + path + "?" + query.toString();
  };
  V.getJSON = async function (path, params) {
    const response = await fetch(V.url(path, params), { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(path + ": " + response.status);
    return response.json();
  };
  V.el = function (tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  V.flash = function (node) {
    node.classList.remove("updated");
    void node.offsetWidth; // restart the animation
    node.classList.add("updated");
  };
  V.debounce = function (fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  };

  /* Server-Sent Events: the browser reconnects by itself and sends Last-Event-ID; the first connection
     starts after the event the page was rendered with, so nothing between render and connect is lost. */
  V.live = function (tenant, handlers) {
    const status = document.getElementById("live");
    const params = {};
    if (tenant) params.tenant = tenant;
    if (V.data.eventId) params.last = V.data.eventId;
    const source = new EventSource(V.url("/events", params));
    const show = function (on) {
      status.textContent = on ? status.dataset.on : status.dataset.off;
      body.dataset.live = on ? "on" : "off";
    };
    source.onopen = function () { show(true); };
    source.onerror = function () { show(false); };
    for (const name of ["sensor", "alert", "deleted", "snapshot"]) {
      source.addEventListener(name, function (event) {
        V.received += 1;
        body.dataset.liveEvents = String(V.received);
        const handler = handlers[name];
        if (handler) handler(JSON.parse(event.data || "{}"));
      });
    }
    return source;
  };
})();
