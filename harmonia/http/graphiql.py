"""The GraphiQL page: assets served from the package (nothing fetched at run time), examples preloaded.

Open ``/graphql#token=<bearer token>`` to have the token put in the Authorization header of every tab;
the token is remembered in the browser's localStorage, so a later plain ``/graphql`` keeps using it.

    from harmonia.http.graphiql import graphiql_page
    html = graphiql_page()   # what ``GET /graphql`` with ``Accept: text/html`` answers

The assets (GraphiQL 3.9.0's UMD build, React 18.3.1) live in ``harmonia/http/static/``; see the
README there for versions and licences. GraphiQL 3's UMD build defines one global, ``GraphiQL``: the
component, with ``GraphiQL.createFetcher`` hung off it; React and ReactDOM are its UMD globals.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from harmonia.http.examples import EXAMPLES

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/graphiql/static"
ASSETS = ("graphiql.min.css", "react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harmonia GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="__PREFIX__/graphiql.min.css">
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="__PREFIX__/react.production.min.js"></script>
  <script src="__PREFIX__/react-dom.production.min.js"></script>
  <script src="__PREFIX__/graphiql.min.js"></script>
  <script>
  (function () {
    "use strict";
    const root = document.getElementById("graphiql");
    if (typeof GraphiQL === "undefined" || typeof ReactDOM === "undefined") {
      root.textContent = "The GraphiQL assets are missing: harmonia/http/static/ must hold " +
        "graphiql.min.js, graphiql.min.css, react.production.min.js and react-dom.production.min.js.";
      return;
    }
    const examples = __EXAMPLES__;
    const hash = new URLSearchParams(window.location.hash.slice(1));
    const token = hash.get("token") || window.localStorage.getItem("harmonia-token") || "";
    if (hash.get("token")) window.localStorage.setItem("harmonia-token", token);
    const bearer = "Bearer " + (token || "<paste a token: harmonia token --role analyst>");
    const headers = JSON.stringify({"Authorization": bearer}, null, 2);

    const fetcher = GraphiQL.createFetcher({url: window.location.pathname});
    const tabs = Object.values(examples).map((query) => ({query, headers}));
    // Headers are never written to localStorage with the tabs; GraphiQL fills a restored tab's
    // missing headers from defaultHeaders, so after a reload every tab carries the current token.
    ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
      fetcher, defaultTabs: tabs, defaultHeaders: headers, shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    }));
  })();
  </script>
</body>
</html>
"""


@lru_cache(maxsize=1)
def graphiql_page() -> str:
    # Every "<" escaped so no example text can close the <script> element or open a comment in it.
    examples = json.dumps(EXAMPLES).replace("<", "\\u003c")
    return _PAGE.replace("__PREFIX__", STATIC_PREFIX).replace("__EXAMPLES__", examples)
