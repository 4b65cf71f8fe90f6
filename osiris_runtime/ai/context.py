"""The LLM context: the least a model needs to write valid OML, built from the registry.

Per component: its name, the OML modes it runs in, whether it takes a connection, the fields a
step must set itself, enums, defaults of the fields shown, a one-line hint and at most two example
configs. Plus the OML skeleton and the workspace's connection aliases (family and alias names,
never a value). Fields a connection supplies and secret fields are left out: the model must never
write them.

The context is deterministic (sorted, no timestamps) and carries a fingerprint of everything it
was built from (specs, connection aliases, this builder's version), which is the cache key: a
changed spec gives a new fingerprint, so a cached context is rebuilt, and `--check` can tell a
stale file from a fresh one without comparing bytes.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from osiris_runtime.atomic_files import write_atomically
from osiris_runtime.canonical import fingerprint, normalize
from osiris_runtime.oml.document import MODE_TO_COMPONENT_MODE
from osiris_runtime.registry import CONTEXT_EXAMPLES
from osiris_runtime.secrets import Redactor

if TYPE_CHECKING:
    from osiris_runtime.oml.connections import ConnectionsFile
    from osiris_runtime.registry import ComponentSpec, Registry

CONTEXT_VERSION = "1.0.0"
# Bump when the shape or the selection rules change: old cached contexts then count as stale.
BUILDER_VERSION = "osiris-context/1"
DEFAULT_CONTEXT_PATH = Path(".osiris_prompts") / "context.json"
MAX_EXAMPLES = CONTEXT_EXAMPLES  # a spec may have more: the registry warns (spec.many-examples)
MAX_HINT_CHARS = 300
TOKENIZER_ENCODING = "o200k_base"

OML_SKELETON = """oml_version: "0.1.0"
name: <kebab-case-name>
steps:
  - id: <kebab-case-id>
    component: <component name>
    mode: <read|write|transform>
    needs: [<ids of upstream steps>]
    config:
      connection: "@<family>.<alias>"
      <field>: <value>
"""

_COMPONENT_TO_OML_MODE = {component: oml for oml, component in MODE_TO_COMPONENT_MODE.items()}


@dataclass(frozen=True)
class LlmContext:
    """A built context: the JSON document, its canonical text and the fingerprint it is keyed by."""

    data: Mapping[str, Any]
    text: str
    fingerprint: str

    @property
    def size_bytes(self) -> int:
        return len(self.text.encode("utf-8"))


def context_fingerprint(registry: "Registry", connections: "ConnectionsFile | None" = None,
                        discovery: Mapping[str, Any] | None = None) -> str:
    """What a context depends on: every spec's fingerprint, the connection aliases, the builder version
    (and, with discovery, the discovered tables section)."""
    parts: dict[str, Any] = {
        "builder": BUILDER_VERSION,
        "specs": {spec.name: spec.fingerprint for spec in registry.specs()},
        "connections": connection_aliases(connections),
    }
    if discovery is not None:
        parts["discovery"] = discovery
    return fingerprint(parts)


def connection_aliases(connections: "ConnectionsFile | None") -> dict[str, list[str]]:
    """Family -> alias names of the connections file; never a field or a value."""
    if connections is None:
        return {}
    return {family: sorted(a.alias for a in connections.aliases(family)) for family in sorted(connections.families())}


def build_context(registry: "Registry", connections: "ConnectionsFile | None" = None,
                  discovery: Mapping[str, Any] | None = None) -> LlmContext:
    """The context of a registry (and a workspace's connections file); a pure function of both.

    `discovery`: a `discovery.context.discovery_section` (real tables and columns), added as is."""
    data = {
        "version": CONTEXT_VERSION,
        "fingerprint": context_fingerprint(registry, connections, discovery),
        "oml": OML_SKELETON,
        "modes": dict(MODE_TO_COMPONENT_MODE),
        "connections": connection_aliases(connections),
        "components": [component_entry(spec) for spec in registry.specs() if _runs_in_a_pipeline(spec)],
    }
    if discovery is not None:
        data["discovery"] = discovery
    return _context_of(data)


def _context_of(data: Mapping[str, Any]) -> LlmContext:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return LlmContext(data=json.loads(text), text=text, fingerprint=str(data.get("fingerprint", "")))


def _runs_in_a_pipeline(spec: "ComponentSpec") -> bool:
    return any(mode in _COMPONENT_TO_OML_MODE for mode in spec.modes)


def component_entry(spec: "ComponentSpec") -> dict[str, Any]:
    """One component, minimal: what a step using it must and may say."""
    hidden = set(spec.connection_fields) | set(spec.secret_roots)
    properties = spec.properties
    required = [f for f in spec.required if f not in hidden]
    shown = _shown_fields(spec, hidden, required)
    entry: dict[str, Any] = {
        "name": spec.name,
        "modes": [_COMPONENT_TO_OML_MODE[m] for m in spec.modes if m in _COMPONENT_TO_OML_MODE],
    }
    if spec.connection_fields:
        entry["connection"] = f"@{spec.family}.<alias>"
    if required:
        entry["required"] = required
    enums = {f: list(properties[f]["enum"]) for f in shown if isinstance(properties.get(f), Mapping) and "enum" in properties[f]}
    if enums:
        entry["enums"] = enums
    defaults = {f: properties[f]["default"] for f in shown
                if isinstance(properties.get(f), Mapping) and "default" in properties[f] and properties[f]["default"] is not None}
    if defaults:
        entry["defaults"] = normalize(defaults)
    hint = (spec.raw.get("llmHints") or {}).get("promptGuidance") if isinstance(spec.raw.get("llmHints"), Mapping) else None
    if isinstance(hint, str) and hint.strip():
        entry["hint"] = hint.strip()[:MAX_HINT_CHARS]
    examples = [_example_config(e, hidden) for e in spec.examples[:MAX_EXAMPLES] if isinstance(e.get("config"), Mapping)]
    if examples:
        entry["examples"] = examples
    return entry


def _shown_fields(spec: "ComponentSpec", hidden: set[str], required: list[str]) -> list[str]:
    """Required fields, fields the examples use, enum fields and the fields hints name, in spec order."""
    wanted = set(required)
    for example in spec.examples[:MAX_EXAMPLES]:
        config = example.get("config")
        if isinstance(config, Mapping):
            wanted.update(str(k) for k in config)
    hints = spec.raw.get("llmHints")
    aliases = hints.get("inputAliases") if isinstance(hints, Mapping) else None
    if isinstance(aliases, Mapping):
        wanted.update(str(k) for k in aliases)
    for name, schema in spec.properties.items():
        if isinstance(schema, Mapping) and "enum" in schema:
            wanted.add(name)
    return [name for name in spec.properties if name in wanted and name not in hidden]


def _example_config(example: Mapping[str, Any], hidden: set[str]) -> dict[str, Any]:
    config = {k: v for k, v in example["config"].items() if k not in hidden}
    # Specs are checked for inline secrets, but a context leaves the machine: redact once more.
    return Redactor(secret_keys=hidden).redact(normalize(config))


# --- counting ------------------------------------------------------------------------------------


_ENCODING_LOCK = threading.Lock()
_ENCODINGS: dict[str, Any] = {}


def count_tokens(text: str) -> int:
    """Tokens of `text` in OpenAI's o200k_base encoding, counted offline (bundled in `bpe-openai`)."""
    import warnings

    # Loading the encoding takes most of a second: load it once per process (immutable after).
    # bpe-openai 0.1.4 reads its bundled data with a deprecated importlib call: keep that quiet.
    with _ENCODING_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = _ENCODINGS.get(TOKENIZER_ENCODING)
        if encoding is None:
            encoding = _ENCODINGS[TOKENIZER_ENCODING] = bpe_openai.get_encoding(TOKENIZER_ENCODING)
        return len(encoding.encode(text))


# --- the cache on disk ---------------------------------------------------------------------------


def read_context_file(path: Path) -> LlmContext | None:
    """A context file written by `write_context_file`, or None when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
        return None
    return _context_of(data)


def write_context_file(context: LlmContext, path: Path) -> None:
    """Write atomically (a reader never sees half a file), canonical text plus a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, context.text + "\n")


def is_stale(path: Path, registry: "Registry", connections: "ConnectionsFile | None" = None) -> bool:
    """True when the file is missing, unreadable or was built from other specs or aliases."""
    cached = read_context_file(path)
    return cached is None or cached.fingerprint != context_fingerprint(registry, connections)


def cached_context(registry: "Registry", connections: "ConnectionsFile | None" = None,
                   cache_dir: Path | None = None, discovery: Mapping[str, Any] | None = None) -> LlmContext:
    """The context, from `<cache_dir>/<fingerprint>.json` when there, else built and stored there.

    Keyed by the fingerprint, so an edited spec or alias simply misses. `cache_dir=None`: build only.
    An unwritable cache directory is not an error (the context is still returned).
    """
    if cache_dir is None:
        return build_context(registry, connections, discovery)
    key = context_fingerprint(registry, connections, discovery)
    path = cache_dir / f"{key.removeprefix('sha256:')}.json"
    cached = read_context_file(path)
    if cached is not None and cached.fingerprint == key:
        return cached
    context = build_context(registry, connections, discovery)
    try:
        write_context_file(context, path)
    except OSError:
        pass
    return context


def default_context_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Beside the spec cache: `<osiris cache>/contexts`."""
    from osiris_runtime.registry import default_cache_dir

    return default_cache_dir(env).parent / "contexts"
