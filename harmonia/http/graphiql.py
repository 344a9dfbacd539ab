"""The GraphiQL page: assets served from the package (nothing fetched at run time), examples preloaded.

Open ``/graphql#token=<bearer token>`` to have the token put in the Authorization header.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from harmonia.http.examples import EXAMPLES

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/graphiql/static"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harmonia GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="{prefix}/graphiql.min.css">
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="{prefix}/react.production.min.js"></script>
  <script src="{prefix}/react-dom.production.min.js"></script>
  <script src="{prefix}/graphiql.min.js"></script>
  <script>
    const examples = {examples};
    const hash = new URLSearchParams(window.location.hash.slice(1));
    const token = hash.get("token") || window.localStorage.getItem("harmonia-token") || "";
    if (hash.get("token")) window.localStorage.setItem("harmonia-token", token);
    const headers = JSON.stringify(token ? {{"Authorization": "Bearer " + token}} : {{}}, null, 2);
    const fetcher = GraphiQL.createFetcher({{ url: window.location.pathname }});
    const tabs = Object.entries(examples).map(([title, query]) => ({{ query, headers }}));
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher, defaultTabs: tabs, defaultHeaders: headers, shouldPersistHeaders: false,
        defaultEditorToolsVisibility: "headers",
      }})
    );
  </script>
</body>
</html>
"""


@lru_cache(maxsize=1)
def graphiql_page() -> str:
    return _PAGE.format(prefix=STATIC_PREFIX, examples=json.dumps(EXAMPLES).replace("</", "<\\/"))
