"""A diagnostic as the CLI prints it: `file:line:col: severity code: message`, its fix, and a `see:` link."""

from __future__ import annotations

import os
from typing import Mapping

from osiris_runtime.doclinks import docs_base_url, resolve_doc_url, troubleshooting_url
from osiris_runtime.errors import Diagnostic


def see_line(code: str, env: Mapping[str, str] | None = None, indent: str = "    ") -> str:
    """`<indent>see: <code's troubleshooting section>`, or "" when there is no link to give."""
    url = resolve_doc_url(troubleshooting_url(code, docs_base_url(os.environ if env is None else env)))
    return f"{indent}see: {url}" if url else ""


def diagnostic_text(diag: Diagnostic, env: Mapping[str, str] | None = None) -> str:
    """`diag.format()` followed by the `see:` line of its code."""
    see = see_line(diag.code, env)
    return diag.format() + (f"\n{see}" if see else "")
