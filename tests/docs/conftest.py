"""The docs tools (tools/docsite.py) are not a package of the project: loaded by path, once."""

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_docsite():
    if "docsite" not in sys.modules:
        spec = importlib.util.spec_from_file_location("docsite", REPO / "tools" / "docsite.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["docsite"] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules["docsite"]


@pytest.fixture(scope="session")
def docsite():
    return load_docsite()
