"""One document cannot stall the others: a job past the time budget has its worker process
replaced; that document gets `oml.validation-timeout`, the next documents are served normally."""

from __future__ import annotations

import asyncio
from pathlib import Path

from osiris_lsp.settings import ServerSettings
from osiris_lsp.validation import Validator
from osiris_lsp.workspace import DocumentSnapshot, FolderContext

SMALL = 'oml_version: "0.1.0"\nname: p\nsteps:\n  - id: a\n    component: nope.x\n    mode: read\n'
BIG = 'oml_version: "0.1.0"\nname: p\nsteps:\n' + "".join(
    f"  - id: s{n}\n    component: nope.x\n    mode: read\n    config: {{a: [1, 2, {{b: c}}]}}\n" for n in range(12_000))


def test_a_runaway_job_is_stopped_and_the_worker_replaced(tmp_path: Path) -> None:
    folder = FolderContext.create(tmp_path, ServerSettings())
    validator = Validator(job_timeout=60)

    async def scenario() -> tuple[list, list]:
        await validator.diagnostics(DocumentSnapshot("file:///warm.yaml", 1, SMALL), folder)  # the worker is up
        validator.job_timeout = 0.3
        big = await validator.diagnostics(DocumentSnapshot("file:///big.yaml", 1, BIG), folder)
        validator.job_timeout = 60
        after = await validator.diagnostics(DocumentSnapshot("file:///after.yaml", 1, SMALL), folder)
        return big, after

    try:
        big, after = asyncio.run(scenario())
    finally:
        validator.shutdown()
    assert [d.code for d in big] == ["oml.validation-timeout"]
    assert "oml.unknown-component" in [d.code for d in after]  # served by a fresh worker
    assert validator._use_process  # a worker process still, not the thread fallback
