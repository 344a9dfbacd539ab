"""The /admin/sources page: every source's state and last hour as charts, anomalies, and what feeds each field.

    GET /admin/sources#token=<admin bearer token>      # kept in localStorage, as /admin and GraphiQL do
    GET /admin/sources#token=...&step=10&refresh=2      # 10-second points, refreshed every 2 seconds

The shell holds no data and loads nothing from elsewhere: uPlot (vendored under http/static, see its
README) draws the charts, and every datum comes from the admins-only ``sources`` query through
``POST /graphql``, refreshed every few seconds. Values are inserted as text, never as HTML.
"""

from __future__ import annotations

from harmonia.http.graphiql import STATIC_PREFIX

SOURCES_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harmonia sources</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="__STATIC__/uplot.min.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2433; background: #fafbfc; }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  #status { margin: .5rem 0; padding: .5rem .75rem; border-radius: 4px; background: #eef2f7; }
  #status.error { background: #fde8e8; color: #8a1c1c; }
  #cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 1rem; }
  .card { background: #fff; border: 1px solid #d5dbe5; border-radius: 6px; padding: .75rem 1rem; }
  .card h3 { margin: 0 0 .25rem; font-size: 1.05rem; display: flex; gap: .5rem; align-items: center; }
  .badge { font-size: .75rem; padding: 1px 8px; border-radius: 10px; background: #e3f6e8; color: #1e6b34; }
  .badge.open { background: #fbe4e4; color: #8a1c1c; } .badge.half_open { background: #fff4d6; color: #7a5b00; }
  .badge.anomaly { background: #fbe4e4; color: #8a1c1c; }
  dl { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 10px; margin: .25rem 0; }
  dt { color: #6b7385; } dd { margin: 0; }
  .bar { display: inline-block; width: 90px; height: 8px; background: #eee; border-radius: 4px;
    vertical-align: middle; }
  .bar > span { display: block; height: 100%; border-radius: 4px; background: #3aa35b; }
  .charts { display: flex; gap: .5rem; flex-wrap: wrap; }
  table { border-collapse: collapse; background: #fff; } th, td { border: 1px solid #d5dbe5; padding: 3px 8px;
    text-align: left; }
  th { background: #f4f6fa; position: sticky; top: 0; }
  .READ { background: #e3f6e8; } .MASKED { background: #fff4d6; } .DENIED { background: #fbe4e4; }
  .muted { color: #6b7385; } input[type=search] { margin-left: 1rem; }
</style>
</head>
<body>
<h1>Harmonia sources</h1>
<div id="status">Loading…</div>
<div id="token-form" hidden>
  <label>Admin bearer token <input id="token-input" size="60"></label> <button id="token-save">Use</button>
</div>
<div id="panel" hidden>
  <div id="cards"></div>
  <h2>Anomalies</h2>
  <table id="anomalies"><thead><tr><th>when</th><th>source</th><th>kind</th><th>state</th><th>what</th></tr></thead>
    <tbody></tbody></table>
  <h2>What feeds each field <input id="filter" type="search" placeholder="Filter Type.field"></h2>
  <table id="fields"><thead></thead><tbody></tbody></table>
</div>
<script src="__STATIC__/uplot.iife.min.js"></script>
<script>
(function () {
  "use strict";
  const hash = new URLSearchParams(window.location.hash.slice(1));
  if (hash.get("token")) window.localStorage.setItem("harmonia-token", hash.get("token"));
  let token = window.localStorage.getItem("harmonia-token") || "";
  const step = Math.max(5, parseInt(hash.get("step") || "60", 10) || 60);
  const refresh = Math.max(1, parseFloat(hash.get("refresh") || "3") || 3) * 1000;
  const charts = window.harmoniaCharts = {};
  const DOTS = {show: true, size: 4};  // a lone minute of traffic is a dot, not nothing
  let fields = [];
  const $ = (id) => document.getElementById(id);

  function status(text, isError) { $("status").textContent = text; $("status").className = isError ? "error" : ""; }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
    }
    for (const c of children) node.append(c === null || c === undefined ? "" : c);
    return node;
  }
  const fmt = (v, unit) => v === null || v === undefined ? "—" : (Math.round(v * 100) / 100) + (unit || "");
  const pct = (v) => v === null || v === undefined ? "—" : (Math.round(v * 1000) / 10) + "%";

  const QUERY = `query($step: Int!) { sources(step: $step) {
    sources { name vendor baseUrl apiVersion endOfSupport credentialKind credentialExpires scopes circuit
      quota { description headroom unit } callsPerMinute latencyP50Ms latencyP99Ms errorRate cacheHitRatio
      series { at calls errors p50Ms p99Ms } anomalies { kind message } }
    anomalies { source kind state at message }
    fields { typeName fieldName sources endpoint cacheTtlSeconds costWeight readers { role access } } } }`;

  async function gql(query, variables) {
    const response = await fetch("/graphql", {method: "POST", headers: {"Content-Type": "application/json",
      "Accept": "application/graphql-response+json", "Authorization": "Bearer " + token},
      body: JSON.stringify({query, variables: variables || {}})});
    const body = await response.json();
    if (body.errors && body.errors.length) {
      const error = new Error(body.errors.map((e) => e.message).join("; "));
      error.codes = body.errors.map((e) => e.extensions && e.extensions.code);
      throw error;
    }
    return body.data;
  }

  function chart(target, title, series, data, key) {
    const opts = {title, width: 290, height: 150, cursor: {show: false}, legend: {show: true},
      scales: {x: {time: true}}, series: [{}].concat(series), axes: [{space: 60}, {size: 45}]};
    if (charts[key]) { charts[key].setData(data); return charts[key]; }
    charts[key] = new uPlot(opts, data, target);
    return charts[key];
  }

  function card(s) {
    const id = "card-" + s.name;
    let node = document.getElementById(id);
    if (!node) {
      node = el("div", {class: "card", id, "data-source": s.name});
      node.append(el("h3", {}, s.name, el("span", {class: "vendor muted"}, s.vendor), el("span",
          {class: "badge circuit"}),
                     el("span", {class: "badge anomaly", hidden: true})),
                  el("dl", {}), el("div", {class: "charts"}, el("div", {class: "traffic"}), el("div",
                      {class: "latency"})));
      $("cards").append(node);
    }
    const badge = node.querySelector(".circuit");
    badge.textContent = "circuit " + s.circuit.replace("_", "-");
    badge.className = "badge circuit " + s.circuit;
    node.dataset.circuit = s.circuit;
    const anomaly = node.querySelector(".anomaly");
    anomaly.hidden = s.anomalies.length === 0;
    anomaly.textContent = s.anomalies.map((a) => a.kind).join(", ") + " anomaly";
    anomaly.title = s.anomalies.map((a) => a.message).join("\\n");
    const q = s.quota;
    const headroom = q && q.headroom !== null ? el("span", {class: "bar"}, el("span", {style: ""})) : "";
    if (headroom) headroom.firstChild.style.width = Math.round(q.headroom * 100) + "%";
    const dl = node.querySelector("dl");
    dl.replaceChildren(
      el("dt", {}, "version"), el("dd", {}, s.apiVersion + " (support ends: " + s.endOfSupport + ")"),
      el("dt", {}, "base URL"), el("dd", {}, s.baseUrl),
      el("dt", {}, "credential"), el("dd", {}, s.credentialKind + ", expires " + s.credentialExpires),
      el("dt", {}, "scopes"), el("dd", {}, s.scopes.length ? s.scopes.join(" ") : "unknown"),
      el("dt", {}, "quota"), el("dd", {class: "quota"}, q ? q.description + " " : "none known", headroom,
                                 q && q.headroom !== null ? " " + pct(q.headroom) + " left" : ""),
      el("dt", {}, "calls/min"), el("dd", {class: "calls"}, fmt(s.callsPerMinute)),
      el("dt", {}, "latency p50 / p99"), el("dd", {class: "latency-figures"},
                                            fmt(s.latencyP50Ms, " ms") + " / " + fmt(s.latencyP99Ms, " ms")),
      el("dt", {}, "errors (1 h)"), el("dd", {class: "error-rate"}, pct(s.errorRate)),
      el("dt", {}, "cache hits"), el("dd", {class: "cache"}, pct(s.cacheHitRatio)));
    // From a little before the first call of the hour: a fresh gateway's charts are not an empty hour.
    const first = s.series.findIndex((p) => p.calls > 0);
    const points = first < 0 ? s.series : s.series.slice(Math.max(0, Math.min(first - 2, s.series.length - 12)));
    const xs = points.map((p) => Date.parse(p.at) / 1000);
    chart(node.querySelector(".traffic"), "calls / errors per " + step + " s",
          [{label: "calls", stroke: "#3867d6", points: DOTS},
           {label: "errors", stroke: "#d63838", fill: "rgba(214,56,56,.15)", points: DOTS}],
          [xs, points.map((p) => p.calls), points.map((p) => p.errors)], s.name + ":traffic");
    chart(node.querySelector(".latency"), "latency (ms)",
          [{label: "p50", stroke: "#3aa35b", points: DOTS}, {label: "p99", stroke: "#e08a00", points: DOTS}],
          [xs, points.map((p) => p.p50Ms), points.map((p) => p.p99Ms)], s.name + ":latency");
  }

  function renderFields() {
    const roles = fields.length ? fields[0].readers.map((r) => r.role) : [];
    $("fields").tHead.replaceChildren(el("tr", {}, ...["Type.field", "sources", "endpoint", "cache TTL", "cost"]
      .concat(roles).map((h) => el("th", {}, h))));
    const filter = $("filter").value.trim().toLowerCase();
    const rows = fields.filter((f) => !filter || (f.typeName + "." + f.fieldName).toLowerCase().includes(filter))
      .map((f) => el("tr", {}, el("td", {}, f.typeName + "." + f.fieldName),
        el("td", {}, f.sources.join(", ") || "(computed)"), el("td", {}, f.endpoint || ""),
        el("td", {}, f.cacheTtlSeconds === null ? "" : f.cacheTtlSeconds + " s"), el("td", {}, String(f.costWeight)),
        ...f.readers.map((r) => el("td", {class: r.access}, r.access === "READ" ? "clear" : r.access.toLowerCase()))));
    $("fields").tBodies[0].replaceChildren(...rows);
  }

  async function load() {
    try {
      const data = (await gql(QUERY, {step})).sources;
      $("panel").hidden = false;
      $("token-form").hidden = true;
      data.sources.forEach(card);
      $("anomalies").tBodies[0].replaceChildren(...data.anomalies.map((a) => el("tr", {class: a.state},
        el("td", {}, a.at), el("td", {}, a.source), el("td", {}, a.kind), el("td", {}, a.state), el("td", {},
            a.message))));
      if (!fields.length) { fields = data.fields; renderFields(); }
      const open = data.sources.filter((s) => s.circuit !== "closed").map((s) => s.name);
      const circuits = open.length ? "; circuit not closed: " + open.join(", ") : "; all circuits closed";
      status(`${data.sources.length} sources${circuits}` +
             `. Updated ${new Date().toLocaleTimeString()}, every ${refresh / 1000} s.`);
      window.harmoniaSourcesLoaded = (window.harmoniaSourcesLoaded || 0) + 1;
      setTimeout(load, refresh);
    } catch (error) {
      // For anyone but an admin the admin plane may not exist at all: its fields then fail validation.
      const notAdmin = ["FORBIDDEN", "UNAUTHENTICATED", "GRAPHQL_VALIDATION_FAILED"];
      const forbidden = (error.codes || []).some((c) => notAdmin.includes(c));
      if (forbidden || !token) {
        $("panel").hidden = true;
        $("token-form").hidden = false;
        status("An admin token is required (harmonia token --role admin).", true);
      } else {
        status("Could not load the sources: " + error.message, true);
        setTimeout(load, refresh);
      }
    }
  }
  $("filter").addEventListener("input", renderFields);
  $("token-save").addEventListener("click", () => {
    token = $("token-input").value.trim().replace(/^Bearer\\s+/i, "");
    window.localStorage.setItem("harmonia-token", token);
    load();
  });
  load();
})();
</script>
</body>
</html>
""".replace("__STATIC__", STATIC_PREFIX)


def sources_page() -> str:
    return SOURCES_PAGE
