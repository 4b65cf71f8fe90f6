"""The docs tools (tools/docsite.py) are not a package of the project: load them by path."""

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docsite():
    spec = importlib.util.spec_from_file_location("docsite", REPO / "tools" / "docsite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("docsite", module)
    spec.loader.exec_module(module)
    return module
