"""Where the documentation of a diagnostic code is: its section of the troubleshooting page.

One place for the link that the CLI prints (`see: ...`) and the language server sends as a
diagnostic's `codeDescription`. The base URL is a setting (`OSIRIS_DOCS_URL`, the server's
`docsBaseUrl`): a built documentation site, e.g. `http://127.0.0.1:8000/` from `make docs`.
Without one, links point at the repository's own `docs/` (the Markdown page in this checkout).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

DOCS_URL_ENV = "OSIRIS_DOCS_URL"
# The troubleshooting page (docs/diagnostics.md): one heading per code, anchored by the code itself.
TROUBLESHOOTING_PAGE = "diagnostics"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def troubleshooting_url(code: str, base_url: str | None = None) -> str:
    """The URL of `code`'s section: `<base_url>/diagnostics/#<code>` on a site, else `docs/diagnostics.md#<code>`.

    The repository-relative form is resolved to a file by `resolve_doc_url`.
    """
    if base_url:
        return f"{base_url.rstrip('/')}/{TROUBLESHOOTING_PAGE}/#{code}"
    return f"docs/{TROUBLESHOOTING_PAGE}.md#{code}"


def docs_base_url(env: Mapping[str, str]) -> str | None:
    """The configured documentation site, if any (an empty value means none)."""
    return env.get(DOCS_URL_ENV) or None


def resolve_doc_url(url: str | None) -> str | None:
    """A link a client can open: URLs as they are, repository-relative doc paths as file URIs.

    None when the path does not exist (an installed wheel carries no docs/).
    """
    if not url:
        return None
    if re.match(r"^[a-z][a-z0-9+.-]*:", url):
        return url
    page, _, anchor = url.partition("#")
    path = _PROJECT_ROOT / page
    if not path.exists():
        return None
    return path.as_uri() + (f"#{anchor}" if anchor else "")
