"""The /admin page: the Type.field x role matrix, edits through the admin mutations, the audit log, dry runs.

    GET /admin#token=<admin bearer token>       # the token is kept in localStorage, as GraphiQL does

A small static page (no asset from anywhere): the shell needs no token, every datum comes through
``POST /graphql`` with the admin's token, so a non-admin sees "an admin token is required" and
nothing else. Clicking a cell stages "let this role read this field" (or stop); "Dry run" asks
``dryRunPolicy`` what the staged changes would do to recent operations and to every client's recorded
usage (the report ``harmonia schema check`` prints for a policy file), "Apply" sends one
``setFieldPolicy`` per changed field (mask and clear readers kept).
"""

from __future__ import annotations

ADMIN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harmonia field policies</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2433; }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  #status { margin: .5rem 0; padding: .5rem .75rem; border-radius: 4px; background: #eef2f7; }
  #status.error { background: #fde8e8; color: #8a1c1c; }
  table { border-collapse: collapse; } th, td { border: 1px solid #d5dbe5; padding: 3px 8px; text-align: left; }
  th { background: #f4f6fa; position: sticky; top: 0; }
  td.cell { text-align: center; cursor: pointer; min-width: 5.5rem; user-select: none; }
  td.cell.admin { cursor: default; opacity: .6; }
  .READ { background: #e3f6e8; } .MASKED { background: #fff4d6; } .DENIED { background: #fbe4e4; }
  td.staged { outline: 3px solid #3867d6; outline-offset: -3px; font-weight: 600; }
  .OVERLAY { font-weight: 600; color: #3867d6; }
  button { margin-right: .5rem; } input[type=search] { margin-left: 1rem; }
  .muted { color: #6b7385; }
  #dry-run-check { background: #f4f6fa; padding: .5rem; white-space: pre-wrap; }
  #dry-run-check.BREAKING { background: #fbe4e4; }
</style>
</head>
<body>
<h1>Harmonia field policies</h1>
<div id="status">Loading…</div>
<div id="token-form" hidden>
  <label>Admin bearer token <input id="token-input" size="60"></label> <button id="token-save">Use</button>
</div>
<div id="panel" hidden>
  <div>
    <button id="dry-run" disabled>Dry run</button><button id="apply" disabled>Apply</button>
    <button id="discard" disabled>Discard</button><span id="staged-count" class="muted"></span>
    <input id="filter" type="search" placeholder="Filter Type.field">
  </div>
  <div id="dry-run-result"></div>
  <h2>Who reads what</h2>
  <table id="matrix"><thead></thead><tbody></tbody></table>
  <h2>Audit log</h2>
  <table id="audit"><thead><tr><th>version</th><th>when</th><th>who</th><th>action</th><th>field</th>
    <th>before</th><th>after</th></tr></thead><tbody></tbody></table>
</div>
<script>
(function () {
  "use strict";
  const hash = new URLSearchParams(window.location.hash.slice(1));
  if (hash.get("token")) window.localStorage.setItem("harmonia-token", hash.get("token"));
  let token = window.localStorage.getItem("harmonia-token") || "";
  let policies = [];
  const staged = new Map();   // "Type.field" -> {typeName, fieldName, read, mask, clear}
  const $ = (id) => document.getElementById(id);

  function status(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  async function gql(query, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/graphql-response+json",
                "Authorization": "Bearer " + token},
      body: JSON.stringify({query, variables: variables || {}}),
    });
    const body = await response.json();
    if (body.errors && body.errors.length) {
      const codes = body.errors.map((e) => e.extensions && e.extensions.code);
      const error = new Error(body.errors.map((e) => e.message).join("; "));
      error.codes = codes;
      throw error;
    }
    return body.data;
  }

  const POLICIES = `{ fieldPolicies { typeName fieldName readSummary source mask
      read { roles scopes } clear { roles scopes } readers { role access } } }`;
  const AUDIT = `{ policyAudit(last: 50) { version at actor action typeName fieldName
      before { summary } after { summary } } }`;

  const plain = (reqs) => reqs === null ? null : reqs.map((r) => ({roles: r.roles, scopes: r.scopes}));

  function proposed(policy, role) {
    const key = policy.typeName + "." + policy.fieldName;
    const current = staged.get(key) || {typeName: policy.typeName, fieldName: policy.fieldName,
      read: plain(policy.read), mask: policy.mask, clear: plain(policy.clear)};
    const reads = accessOf(policy, role).replace("?", "") !== "DENIED";
    const read = reads ? current.read.filter((r) => !r.roles.includes(role))
                       : current.read.concat([{roles: [role], scopes: []}]);
    return Object.assign({}, current, {read});
  }

  function accessOf(policy, role) {
    const key = policy.typeName + "." + policy.fieldName;
    if (staged.has(key)) {
      const read = staged.get(key).read;
      const allowed = read.some((r) => !r.scopes.length && r.roles.every((x) => x === role));
      return allowed ? (policy.mask ? "MASKED?" : "READ?") : "DENIED?";
    }
    return policy.readers.find((r) => r.role === role).access;
  }

  function render() {
    const roles = policies.length ? policies[0].readers.map((r) => r.role) : [];
    const filter = $("filter").value.trim().toLowerCase();
    $("matrix").tHead.innerHTML = "<tr><th>Type.field</th>" + roles.map((r) => `<th>${r}</th>`).join("") +
      "<th>rule</th><th>mask</th><th></th></tr>";
    const rows = [];
    for (const p of policies) {
      const key = p.typeName + "." + p.fieldName;
      if (filter && !key.toLowerCase().includes(filter)) continue;
      const cells = roles.map((role) => {
        const access = accessOf(p, role);
        const admin = p.readers.find((r) => r.role === role).access === "READ" && role === "admin";
        return `<td class="cell ${access.replace("?", "")}${staged.has(key) ? " staged" : ""}${admin ? " admin" : ""}"
          data-key="${key}" data-role="${role}">${access}</td>`;
      }).join("");
      const reset = p.source === "OVERLAY"
        ? `<button class="reset" data-type="${p.typeName}" data-field="${p.fieldName}">back to file</button>` : "";
      rows.push(`<tr data-key="${key}"><td>${key}</td>${cells}<td class="${p.source}">${p.readSummary}` +
        ` <span class="muted">(${p.source.toLowerCase()})</span></td><td>${p.mask || ""}</td><td>${reset}</td></tr>`);
    }
    $("matrix").tBodies[0].innerHTML = rows.join("");
    $("staged-count").textContent = staged.size ? `${staged.size} field(s) changed, not applied` : "";
    for (const id of ["dry-run", "apply", "discard"]) $(id).disabled = staged.size === 0;
  }

  async function load() {
    try {
      policies = (await gql(POLICIES)).fieldPolicies;
      const audit = (await gql(AUDIT)).policyAudit;
      $("audit").tBodies[0].innerHTML = audit.map((e) => `<tr><td>${e.version}</td><td>${e.at}</td>` +
        `<td>${e.actor}</td><td>${e.action}</td><td>${e.typeName}.${e.fieldName}</td>` +
        `<td>${e.before ? e.before.summary : "—"}</td><td>${e.after ? e.after.summary : "—"}</td></tr>`).join("");
      $("panel").hidden = false;
      $("token-form").hidden = true;
      status(`${policies.length} fields. Click a cell to let a role read a field (or stop), then Dry run or Apply.`);
      render();
    } catch (error) {
      $("panel").hidden = true;
      $("token-form").hidden = false;
      // For anyone but an admin the admin plane does not exist: its fields fail validation.
      const notAdmin = ["FORBIDDEN", "UNAUTHENTICATED", "GRAPHQL_VALIDATION_FAILED"];
      const forbidden = (error.codes || []).some((c) => notAdmin.includes(c));
      status(forbidden || !token ? "An admin token is required (harmonia token --role admin)." :
        "Could not load the policies: " + error.message, true);
    }
  }

  $("matrix").addEventListener("click", (event) => {
    const cell = event.target.closest("td.cell");
    if (!cell || cell.classList.contains("admin")) return;
    const policy = policies.find((p) => p.typeName + "." + p.fieldName === cell.dataset.key);
    staged.set(cell.dataset.key, proposed(policy, cell.dataset.role));
    render();
  });
  $("matrix").addEventListener("click", async (event) => {
    const button = event.target.closest("button.reset");
    if (!button) return;
    try {
      await gql(`mutation($t: String!, $f: String!) { removeFieldPolicy(typeName: $t, fieldName: $f) { source } }`,
                {t: button.dataset.type, f: button.dataset.field});
      await load();
    } catch (error) { status("Could not reset: " + error.message, true); }
  });
  $("discard").addEventListener("click", () => { staged.clear(); $("dry-run-result").innerHTML = ""; render(); });
  $("filter").addEventListener("input", render);
  $("dry-run").addEventListener("click", async () => {
    try {
      const data = await gql(`query($c: [FieldPolicyInput!]!) { dryRunPolicy(changes: $c, last: 200) {
          operationsReplayed impacts { typeName fieldName change roles subjects operations }
          check { verdict text } } }`,
        {c: [...staged.values()]});
      const report = data.dryRunPolicy;
      $("dry-run-result").innerHTML = `<p id="dry-run-summary">Replayed ${report.operationsReplayed} recent ` +
        `operation(s): ${report.impacts.length} change(s).</p><table><tr><th>field</th><th>becomes</th>` +
        `<th>roles</th><th>subjects</th><th>operations</th></tr>` + report.impacts.map((i) =>
          `<tr><td>${i.typeName}.${i.fieldName}</td><td>${i.change}</td><td>${i.roles.join(", ")}</td>` +
          `<td>${i.subjects.join(", ")}</td><td>${i.operations}</td></tr>`).join("") + "</table>";
      // The usage check, as `harmonia schema check` prints it for the same policy (inserted as text).
      const check = document.createElement("pre");
      check.id = "dry-run-check";
      check.className = report.check.verdict;
      check.textContent = report.check.text;
      $("dry-run-result").append(check);
    } catch (error) { status("Dry run failed: " + error.message, true); }
  });
  $("apply").addEventListener("click", async () => {
    try {
      for (const input of staged.values()) {
        await gql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { source } }`, {i: input});
      }
      staged.clear();
      $("dry-run-result").innerHTML = "";
      await load();
      status("Applied: every gateway instance enforces it within a second.");
    } catch (error) { status("Could not apply: " + error.message, true); }
  });
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
"""


def admin_page() -> str:
    return ADMIN_PAGE
