"""Marketing APIs declared in YAML instead of written in Python (``docs/declared-sources.md``).

    found = load_folder(settings.sources_dir, reserved)     # loader.py: file:line:key errors
    api = DeclaredAPI.build(found.declarations[0], configured)   # connector.py

``shipped/`` holds the two declarations that come with Harmonia: Meta Ads and Klaviyo.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_DECLARATIONS = Path(__file__).parent / "shipped"
