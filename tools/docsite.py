"""The documentation site's generated parts, and the facts the docs tests check.

Used two ways:
- as the MkDocs hook module (`hooks:` in mkdocs.yml): headings that name a diagnostic code get the
  code itself as their anchor (`diagnostics.md#oml.unknown-component`, the target of every
  `codeDescription` and CLI `see:` link), and two pages are generated at build time:
  `reference/diagnostic-codes.md` (from the codes the sources can emit) and
  `reference/spec-schema.md` (from components/spec.schema.json);
- by tests/docs/, which check that every emitted code has its troubleshooting section.

The codes are found in the sources, not listed by hand, so a code added anywhere in
`osiris_runtime` or `osiris_lsp` fails the docs tests until its section is written.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

REPO = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = (REPO / "osiris_runtime", REPO / "osiris_lsp")
TROUBLESHOOTING = REPO / "docs" / "diagnostics.md"

# Families of diagnostic codes and the stage that reports them. A code of a family missing here
# fails tests/docs/test_codes.py with a message naming it.
FAMILIES: dict[str, str] = {
    "yaml": "reading the file",
    "oml": "the document's shape",
    "config": "a step's config",
    "connection": "connections",
    "needs": "dependencies",
    "secret": "secrets",
    "params": "params and profiles",
    "spec": "component specs",
    "compile": "compiling",
    "run": "running",
    "ai": "AI assistants",
    "llm": "the language model endpoint",
    "discovery": "against the discovered schema",
    "sql": "SQL inside a step",
    "preview": "previewing a step's rows",
    "e2b": "the e2b sandbox engine",
}
CODE_TEXT = r"[a-z][a-z0-9]*\.[a-z0-9]+(?:-[a-z0-9]+)*"
_FAMILY_CODE = re.compile(rf"""["']((?:{'|'.join(FAMILIES)})\.[a-z0-9]+(?:-[a-z0-9]+)*)["']""")
# Strings of a code family's shape that are file names, not codes (`spec.yaml`, `config.json`).
_FILE_SUFFIXES = {"json", "jsonl", "yaml", "yml", "md", "py", "csv", "duckdb", "txt", "toml"}
# Calls whose first argument, and keywords whose value, is a diagnostic code.
_CODE_CALLS = {"Diagnostic", "FriendlyError", "report", "_problem", "OsirisError", "StepError", "lost"}
_CODE_KEYWORDS = {"code"}


def _is_code(text: str) -> bool:
    return text.rsplit(".", 1)[-1] not in _FILE_SUFFIXES


def _sources() -> list[Path]:
    return sorted(p for root in SOURCE_ROOTS for p in root.rglob("*.py"))


def emitted_codes() -> dict[str, list[str]]:
    """Every diagnostic code the sources can emit -> the modules (repository-relative) that name it."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        for code in _FAMILY_CODE.findall(path.read_text(encoding="utf-8")):
            if _is_code(code):
                found[code].add(path.relative_to(REPO).as_posix())
    return {code: sorted(modules) for code, modules in sorted(found.items())}


def codes_of_unknown_families() -> dict[str, str]:
    """Codes of a family not in FAMILIES -> a module naming one.

    A code is a `family.kebab-name` string passed as `code=`, as the first argument of a
    `Diagnostic(...)`-like call (or of an exception type's), or any string of that shape with a
    hyphen in its name (`e2b.sandbox-lost`): file and module names have none.
    """
    shaped = re.compile(rf"^{CODE_TEXT}$")
    hyphenated = re.compile(r"^[a-z][a-z0-9]*\.[a-z0-9]+(?:-[a-z0-9]+)+$")
    out: dict[str, str] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            candidates = [k.value for k in node.keywords if k.arg in _CODE_KEYWORDS]
            if (func in _CODE_CALLS or func.endswith(("Error", "Failed"))) and node.args:
                candidates.append(node.args[0])
            candidates += [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                           and hyphenated.match(a.value)]
            for value in candidates:
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and shaped.match(value.value):
                    if value.value.split(".", 1)[0] not in FAMILIES and _is_code(value.value):
                        out.setdefault(value.value, path.relative_to(REPO).as_posix())
    out.pop("osiris.error", None)  # OsirisError's default code: the fallback, never raised on purpose
    return out


@dataclass(frozen=True)
class Section:
    """One code's section of the troubleshooting page."""

    code: str
    severity: str  # as the heading says it: "error", "warning", "warning; error when ..."
    body: str  # the Markdown under the heading, up to the next heading


_HEADING = re.compile(rf"^(#{{2,6}}) `({CODE_TEXT})`(?: \((?P<severity>[^)]*)\))?\s*$", re.M)
_ANY_HEADING = re.compile(r"^#{1,6} ", re.M)


def troubleshooting_sections(text: str | None = None) -> dict[str, Section]:
    """The sections of docs/diagnostics.md: one per heading written ``### `code` (severity)``."""
    text = TROUBLESHOOTING.read_text(encoding="utf-8") if text is None else text
    sections: dict[str, Section] = {}
    for match in _HEADING.finditer(text):
        following = _ANY_HEADING.search(text, match.end())
        body = text[match.end():following.start() if following else len(text)]
        sections[match.group(2)] = Section(match.group(2), (match.group("severity") or "").strip(), body.strip())
    return sections


def slugify(value: str, separator: str) -> str:
    """Heading anchors: a heading that starts with a diagnostic code is anchored by the code."""
    from markdown.extensions.toc import slugify as default_slugify

    match = re.match(rf"^({CODE_TEXT})(?:\s|\(|$)", value.strip())
    if match and match.group(1).split(".", 1)[0] in FAMILIES:
        return match.group(1)
    return default_slugify(value, separator)


def diagnostic_codes_page() -> str:
    """reference/diagnostic-codes.md: every code the sources can emit, with its section and modules."""
    sections = troubleshooting_sections()
    lines = [
        "# Diagnostic codes",
        "",
        "Generated when the site is built, from the codes that `osiris_runtime` and `osiris_lsp` can emit.",
        "Each links to its section of [Troubleshooting](../diagnostics.md): a failing snippet, the message",
        "and the fix. Exit statuses: 2 for validation errors, 3 compile, 4 run, 5 configuration.",
        "",
    ]
    by_family: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for code, modules in emitted_codes().items():
        by_family[code.split(".", 1)[0]].append((code, modules))
    for family, stage in FAMILIES.items():
        if family not in by_family:
            continue
        lines += [f"## `{family}.*`: {stage}", "", "| code | severity | emitted in |", "|---|---|---|"]
        for code, modules in by_family[family]:
            section = sections.get(code)
            name = f"[`{code}`](../diagnostics.md#{code})" if section else f"`{code}` (no section yet)"
            where = ", ".join(f"`{m}`" for m in modules)
            lines.append(f"| {name} | {section.severity if section else ''} | {where} |")
        lines.append("")
    return "\n".join(lines)


def _schema_type(schema: Mapping[str, Any]) -> str:
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return " or ".join(_schema_type(s) for s in schema[combinator])
    kind = schema.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"list of {_schema_type(schema['items'])}"
    return kind


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _properties_table(schema: Mapping[str, Any]) -> list[str]:
    required = set(schema.get("required", ()))
    rows = ["| key | type | required | description |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        prop = prop if isinstance(prop, Mapping) else {}
        extras = []
        if "pattern" in prop:
            extras.append(f"pattern `{prop['pattern']}`")
        if "default" in prop:
            extras.append(f"default `{json.dumps(prop['default'])}`")
        description = " ".join(filter(None, [prop.get("description", ""), "; ".join(extras)]))
        rows.append(f"| `{name}` | {_cell(_schema_type(prop))} | {'yes' if name in required else ''} | {_cell(description)} |")
    return rows


def _nested_objects(schema: Mapping[str, Any], prefix: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, Mapping) and isinstance(prop.get("properties"), Mapping):
            yield f"{prefix}{name}", prop
            yield from _nested_objects(prop, f"{prefix}{name}.")


def spec_schema_page(schema: Mapping[str, Any] | None = None) -> str:
    """reference/spec-schema.md: the keys of a component spec, from components/spec.schema.json."""
    if schema is None:
        schema = json.loads((REPO / "components" / "spec.schema.json").read_text(encoding="utf-8"))
    lines = [
        "# Component spec schema",
        "",
        "Generated when the site is built from `components/spec.schema.json` "
        f"(`{schema.get('$id', '')}`), which `osiris components validate` and the registry check every",
        "`components/<name>/spec.yaml` against. How to write one: [Writing a component](../writing-a-component.md);",
        "what each key does at run time: [Component specs](../component-specs.md).",
        "",
    ]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    extra = schema.get("additionalProperties")
    lines += ["## Top-level keys", ""]
    if extra is False:
        lines += ["Keys not listed here are rejected (`spec.invalid`).", ""]
    lines += [*_properties_table(schema), ""]
    for name, nested in _nested_objects(schema, ""):
        lines += [f"## `{name}`", "", *_properties_table(nested), ""]
    for name, definition in schema.get("$defs", {}).items():
        lines += [f"## {name}", ""]
        if definition.get("description"):
            lines += [_cell(definition["description"]), ""]
        if isinstance(definition.get("properties"), Mapping):
            lines += _properties_table(definition)
        else:
            lines.append(f"Type: {_cell(_schema_type(definition))}" +
                         (f", pattern `{definition['pattern']}`" if "pattern" in definition else ""))
        lines.append("")
    return "\n".join(lines)


GENERATED_PAGES = {
    "reference/diagnostic-codes.md": diagnostic_codes_page,
    "reference/spec-schema.md": spec_schema_page,
}


# --- MkDocs hooks -------------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    config.mdx_configs.setdefault("toc", {})["slugify"] = slugify
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for src_uri, render in GENERATED_PAGES.items():
        files.append(File.generated(config, src_uri, content=render()))
    return files
