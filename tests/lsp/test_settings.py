"""Settings from initializationOptions and workspace/configuration: components path, connections file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

pytestmark = pytest.mark.asyncio(loop_scope="module")

from osiris_runtime.registry import Registry


def custom_component(root: Path) -> Path:
    spec_dir = root / "acme" / "acme.reader"
    spec_dir.mkdir(parents=True, exist_ok=True)
    source = Registry().get("mysql.extractor").path.read_text()
    (spec_dir / "spec.yaml").write_text(source.replace("name: mysql.extractor", "name: acme.reader")
                                        .replace("title: MySQL extractor", "title: Acme reader"))
    return root / "acme"


async def wait_until(predicate, timeout=10.0):
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_components_path_and_connections_file_from_workspace_configuration(editor, tmp_path):
    components = custom_component(tmp_path)
    other_connections = tmp_path / "elsewhere.yaml"
    other_connections.write_text("connections:\n  mysql:\n    far-away:\n      host: far\n")
    uri, pos = editor.open('oml_version: "0.1.0"\nsteps:\n  - id: a\n    component: mysql.extractor\n    config:\n'
                           '      connection: "@mysql.|"\n')
    editor.client.set_configuration({"componentsPath": [str(components)], "connectionsFile": str(other_connections)},
                                    section="osiris")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))

    async def configured():
        labels = [i.label for i in await editor.completion(uri, pos)]
        return labels == ["@mysql.far-away"]

    assert await wait_until(configured)
    uri2, pos2 = editor.open('oml_version: "0.1.0"\nsteps:\n  - id: a\n    component: acme|\n')
    items = {i.label: i for i in await editor.completion(uri2, pos2)}
    assert "acme.reader" in items and "Acme reader" in items["acme.reader"].detail
    editor.client.set_configuration({}, section="osiris")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"osiris": {
        "componentsPath": [], "connectionsFile": ""}}))

    async def restored():
        return "@mysql.shop" in [i.label for i in await editor.completion(uri, pos)]

    assert await wait_until(restored)
