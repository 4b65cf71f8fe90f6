"""The deterministic compiler: OML text + registry + params + profile -> a compiled pipeline.

`compile_pipeline` is pure: no file, clock, hostname or process state is read (the environment
mapping for `OSIRIS_PARAM_*` is passed in). The same inputs give byte-identical `files()` on every
machine; see docs/manifest.md for the format and the determinism contract. `write_compiled` and
`load_compiled` are the only functions here that touch the filesystem.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from osiris_runtime.atomic_files import write_atomically
from osiris_runtime.bounded_read import read_limited
from osiris_runtime.canonical import CanonicalError, canonical_json, canonical_yaml, fingerprint, normalize
from osiris_runtime.errors import CompileFailed, ConfigError, Diagnostic, ExitCode, Range, Severity
from osiris_runtime.friendly import resolve_aliases
from osiris_runtime.params import ParamProblem, declared_params, env_name, resolve_params, substitute_params
from osiris_runtime.oml.rules_secrets import outbound_secret, secret_named_literals
from osiris_runtime.oml.rules_steps import unsafe_step_id

if TYPE_CHECKING:
    from osiris_runtime.oml.connections import ConnectionsFile
    from osiris_runtime.oml.document import OmlDocument, StepView
    from osiris_runtime.registry import ComponentSpec, Registry

__all__ = [
    "COMPILER_NAME",
    "COMPILER_VERSION",
    "CompileMode",
    "CompileResult",
    "CompiledPipeline",
    "compile_pipeline",
    "exit_code_for",
    "load_compiled",
    "load_compiled_to_run",
    "plan_stages",
    "write_compiled",
]

COMPILER_NAME = "osiris-compiler"
# Bump when the bytes the compiler writes for the same input change; it is part of every
# manifest's fingerprint, so caches keyed on it are invalidated.
COMPILER_VERSION = "0.1.0"
MANIFEST_FILE = "manifest.yaml"
CFG_DIR = "cfg"

CompileMode = Literal["warn", "strict", "off"]
Path_ = tuple[str | int, ...]

# Diagnostic families that mean "the compiler could not produce outputs" (exit 3) rather than
# "the OML is invalid" (exit 2).
_COMPILE_FAMILIES = ("params.", "compile.")
_CONFIG_FAMILY = "config."


@dataclass(frozen=True)
class CompiledPipeline:
    """The manifest and one cfg per step, as plain data; `files()` gives their canonical bytes."""

    manifest: Mapping[str, Any]
    cfgs: Mapping[str, Mapping[str, Any]]

    def files(self) -> dict[str, bytes]:
        """`manifest.yaml` and `cfg/<id>.json` -> canonical bytes, cfgs first in step order."""
        out: dict[str, bytes] = {}
        for step in self.manifest.get("steps", ()):
            out[step["cfg_path"]] = canonical_json(self.cfgs[step["id"]])
        out[MANIFEST_FILE] = canonical_yaml(self.manifest)
        return out

    @property
    def is_intact(self) -> bool:
        """Whether `fingerprints.manifest` still matches the manifest and cfgs (no hand edits since compile)."""
        recorded = self.manifest.get("fingerprints", {}).get("manifest")
        return recorded is not None and recorded == manifest_fingerprint(self.manifest, self.cfgs)

    @property
    def step_ids(self) -> list[str]:
        return [step["id"] for step in self.manifest.get("steps", ())]

    @property
    def stages(self) -> list[list[str]]:
        return [list(stage) for stage in self.manifest.get("plan", {}).get("stages", ())]


@dataclass(frozen=True)
class CompileResult:
    diagnostics: tuple[Diagnostic, ...]
    pipeline: CompiledPipeline | None  # None when there are errors

    @property
    def ok(self) -> bool:
        return self.pipeline is not None

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if not d.is_error)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code_for(self.diagnostics)


def exit_code_for(diagnostics: Iterable[Diagnostic]) -> ExitCode:
    """0 without errors; 3 when every error is a params/compile problem; 2 otherwise."""
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        return ExitCode.OK
    if all(d.code.startswith(_COMPILE_FAMILIES) for d in errors):
        return ExitCode.COMPILE
    return ExitCode.VALIDATION


def compile_pipeline(
    text: str,
    registry: "Registry",
    *,
    params: Mapping[str, str] = {},
    env: Mapping[str, str] = {},
    profile: str | None = None,
    mode: CompileMode = "warn",
    connections: "ConnectionsFile | None" = None,
    source: str | None = None,
) -> CompileResult:
    """Compile OML text. Never raises for bad input: problems come back as located diagnostics.

    `mode`: `warn` reports warnings and compiles; `strict` turns warnings into errors; `off`
    skips config validation (`config.*`) but never the structural, params and secret checks.
    `env` is only consulted for `OSIRIS_PARAM_<NAME>`.
    """
    from osiris_runtime.oml.document import parse_oml

    if mode not in ("warn", "strict", "off"):
        raise ValueError(f"unknown compile mode {mode!r}")
    doc = parse_oml(text, source)
    diagnostics: list[Diagnostic] = list(doc.syntax_diagnostics)
    if any(d.is_error for d in diagnostics):
        return CompileResult(_sorted(_apply_mode(diagnostics, mode)), None)

    compiler = _Compilation(doc, registry, params=params, env=env, profile=profile, source=source,
                            connections=connections)
    resolved = compiler.resolve_params()
    # One rule set: the validator's rules, on the document as it will run (params resolved). When
    # params could not be resolved, on the document as written (params at their defaults).
    diagnostics += _validate(resolved or doc, registry, connections=connections, mode=mode,
                             params_resolved=resolved is not None)
    diagnostics = _apply_mode(_dedupe(diagnostics + compiler.diagnostics), mode)
    if resolved is None or any(d.is_error for d in diagnostics):
        return CompileResult(_sorted(diagnostics), None)
    pipeline = compiler.assemble(resolved)
    diagnostics = _apply_mode(_dedupe(diagnostics + compiler.diagnostics), mode)
    if any(d.is_error for d in diagnostics):
        pipeline = None
    return CompileResult(_sorted(diagnostics), pipeline)


def plan_stages(step_ids: Sequence[str], needs: Mapping[str, Sequence[str]]) -> tuple[list[str], list[list[str]], list[str]]:
    """Topological order, stages and the steps left on a cycle.

    Order: Kahn's algorithm taking, among the ready steps, the one first in the OML. Stage of a
    step = 1 + the highest stage among its needs, so each stage only needs earlier stages and its
    steps may run in parallel; steps in a stage keep OML order. Unknown needs are ignored here.
    """
    position = {step_id: index for index, step_id in enumerate(step_ids)}
    waiting = {step_id: {n for n in needs.get(step_id, ()) if n in position} for step_id in step_ids}
    dependents: dict[str, list[str]] = {step_id: [] for step_id in step_ids}
    for step_id, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(step_id)
    ready = [position[s] for s, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    level: dict[str, int] = {}
    while ready:
        step_id = step_ids[heapq.heappop(ready)]
        order.append(step_id)
        level[step_id] = 1 + max((level[d] for d in needs.get(step_id, ()) if d in level), default=-1)
        for child in dependents[step_id]:
            waiting[child].discard(step_id)
            if not waiting[child]:
                heapq.heappush(ready, position[child])
    stages: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for step_id in step_ids:
        if step_id in level:
            stages[level[step_id]].append(step_id)
    on_cycle = [s for s in step_ids if s not in level]
    return order, stages, on_cycle


def write_compiled(pipeline: CompiledPipeline, out_dir: Path) -> None:
    """Write the files (atomically, unchanged files left alone) and remove stale `cfg/*.json`.

    `ConfigError` (exit 5) when `out_dir` holds links or files an earlier compile did not write
    (see `output_dir`): nothing of the user's is deleted or written through.
    """
    from osiris_runtime.output_dir import check_output_dir

    out_dir = Path(out_dir)
    files = pipeline.files()
    cfg_names = frozenset(relative[len(CFG_DIR) + 1:] for relative in files if relative != MANIFEST_FILE)
    check_output_dir(out_dir, what="compiled directory", known=(files[MANIFEST_FILE], cfg_names))
    (out_dir / CFG_DIR).mkdir(parents=True, exist_ok=True)
    for relative, data in files.items():  # cfgs first, manifest last: a reader never sees a
        _write_if_changed(out_dir / relative, data)  # manifest naming cfgs not yet written
    for existing in (out_dir / CFG_DIR).glob("*.json"):
        if f"{CFG_DIR}/{existing.name}" not in files:
            existing.unlink()


def load_compiled(out_dir: Path) -> CompiledPipeline:
    """Read `manifest.yaml` and the cfgs it names; `CompileFailed` (exit 3) when unreadable."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST_FILE
    fix = f"compile the pipeline again: osiris compile <pipeline.yaml> --out {out_dir}"
    try:
        manifest = YAML(typ="safe").load(read_limited(manifest_path))
    except FileNotFoundError:
        raise CompileFailed(f"no {MANIFEST_FILE} in {out_dir}", code="compile.no-manifest", fix=fix) from None
    except (OSError, YAMLError) as exc:
        raise CompileFailed(f"cannot read {manifest_path}: {exc}", code="compile.invalid-manifest", fix=fix) from exc
    compiler = manifest.get("compiler") if isinstance(manifest, dict) else None
    if isinstance(compiler, dict) and str(compiler.get("version", "")).split(".")[0] != COMPILER_VERSION.split(".")[0]:
        raise CompileFailed(f"{manifest_path} was written by {compiler.get('name')} {compiler.get('version')}, "
                            f"this is {COMPILER_NAME} {COMPILER_VERSION}", code="compile.incompatible-manifest", fix=fix)
    steps = manifest.get("steps") if isinstance(manifest, dict) else None
    if not isinstance(steps, list) or not all(isinstance(s, dict) and isinstance(s.get("id"), str) for s in steps):
        raise CompileFailed(f"{manifest_path} has no valid `steps` list", code="compile.invalid-manifest", fix=fix)
    cfgs: dict[str, dict[str, Any]] = {}
    root = out_dir.resolve()
    for step in steps:
        cfg_path = step.get("cfg_path") or f"{CFG_DIR}/{step['id']}.json"
        target = (out_dir / cfg_path).resolve()
        if root not in target.parents:
            raise CompileFailed(f"step `{step['id']}`: cfg_path {cfg_path!r} leaves {out_dir}",
                                code="compile.invalid-manifest", fix=fix)
        try:
            cfg = json.loads(read_limited(target).decode("utf-8"))
        except FileNotFoundError:
            raise CompileFailed(f"step `{step['id']}`: missing {cfg_path}", code="compile.missing-cfg", fix=fix) from None
        except (OSError, ValueError) as exc:
            raise CompileFailed(f"step `{step['id']}`: cannot read {cfg_path}: {exc}",
                                code="compile.invalid-cfg", fix=fix) from exc
        if not isinstance(cfg, dict):
            raise CompileFailed(f"step `{step['id']}`: {cfg_path} is not a JSON object", code="compile.invalid-cfg", fix=fix)
        cfgs[step["id"]] = cfg
    return CompiledPipeline(manifest, cfgs)


def load_compiled_to_run(out_dir: Path) -> CompiledPipeline:
    """`load_compiled`, refusing a directory edited since it was compiled (`ConfigError`, exit 5):
    what runs is exactly what the compiler wrote, or nothing."""
    pipeline = load_compiled(out_dir)
    if not pipeline.is_intact:
        raise ConfigError(
            f"{Path(out_dir) / MANIFEST_FILE}: the manifest fingerprint does not match its manifest and cfg files "
            "(edited or altered since compile); nothing ran",
            code="run.manifest-mismatch",
            fix=f"compile the pipeline again: osiris compile <pipeline.yaml> --out {out_dir}",
        )
    return pipeline


def manifest_fingerprint(manifest: Mapping[str, Any], cfgs: Mapping[str, Mapping[str, Any]]) -> str:
    """The fingerprint of a compiled pipeline: the manifest minus `fingerprints.manifest`, and every cfg."""
    body = dict(manifest)
    prints = dict(body.get("fingerprints", {}))
    prints.pop("manifest", None)
    body["fingerprints"] = prints
    return fingerprint({"manifest": body, "cfgs": cfgs})


# --- the compilation itself ---------------------------------------------------------------------


class _Compilation:
    """One compile: collects diagnostics while building the manifest and cfgs (single use)."""

    def __init__(self, doc: "OmlDocument", registry: "Registry", *, params: Mapping[str, str],
                 env: Mapping[str, str], profile: str | None, source: str | None,
                 connections: "ConnectionsFile | None" = None) -> None:
        self.doc = doc
        self.connections = connections
        self.param_values: dict[str, Any] = {}
        self.unresolvable = False  # a `${params.x}` names no declared param
        self.registry = registry
        self.cli_params = params
        self.env = env
        self.profile = profile
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def error(self, code: str, message: str, rng: Range, *, fix: str | None = None,
              data: Mapping[str, Any] | None = None, severity: Severity = Severity.ERROR) -> None:
        self.diagnostics.append(Diagnostic(code, message, rng, severity, fix=fix, data=dict(data or {}),
                                           source=self.source))

    def resolve_params(self) -> "OmlDocument | None":
        """The document with params resolved (same positions), or None when they cannot be."""
        data = self.doc.data
        if not isinstance(data, dict):
            return None  # not a pipeline: the validator says so
        resolved_data, self.param_values = self._resolve_params(data)
        # Param values go into the manifest: no secret may ride in on them.
        for name, value in self.param_values.items():
            for path, field in secret_named_literals(name, value, ("params", name)):
                message, fix = outbound_secret(field)
                self.error("secret.inline", message, self.doc.range_of(path), fix=fix, data={"path": list(path), "field": field})
        try:
            resolved_data = normalize(resolved_data)
        except CanonicalError as exc:
            self.error("compile.invalid-value", str(exc), self.doc.range_of(exc.path),
                       fix="use finite numbers and plain YAML values")
            return None
        if self.unresolvable or any(d.is_error for d in self.diagnostics):
            return None
        return self.doc.with_data(resolved_data)

    def assemble(self, resolved: "OmlDocument") -> CompiledPipeline | None:
        """The manifest and cfgs of a validated, param-resolved document (only what the outputs need is checked here)."""
        from osiris_runtime.oml.document import value_at

        resolved_data = resolved.data
        steps = resolved.steps()
        specs = self._specs(steps)
        if specs is None:
            return None
        ids = [step.id for step in steps]
        order, stages, on_cycle = plan_stages(ids, {step.id: list(step.depends_on) for step in steps})
        if on_cycle:  # the validator's needs.cycle has stopped the compile before: not reachable
            self.error("compile.internal", f"steps {', '.join(on_cycle)} form a cycle", Range())
            return None
        cfgs: dict[str, dict[str, Any]] = {}
        manifest_steps: list[dict[str, Any]] = []
        for step in steps:
            spec = specs[step.id]
            config = value_at(resolved_data, step.path + (step.config_key or "config",))
            cfg = _fill_defaults(spec, resolve_aliases(spec, dict(config) if isinstance(config, dict) else {}))
            cfgs[step.id] = cfg
            manifest_steps.append({
                "id": step.id,
                "component": spec.name,
                "component_version": spec.version,
                "mode": step.component_mode,
                "driver": spec.driver,
                "cfg_path": f"{CFG_DIR}/{step.id}.json",
                "connection": self._connection_ref(spec, cfg),
                "needs": list(step.depends_on),
            })
        if any(d.is_error for d in self.diagnostics):
            return None
        try:
            return self._assemble(resolved_data, self.param_values, specs, manifest_steps, order, stages, cfgs)
        except CanonicalError as exc:  # a spec default with no canonical form
            self.error("compile.invalid-value", str(exc), Range(), fix="fix the component spec's defaults")
            return None

    def _assemble(self, resolved_data: Mapping[str, Any], param_values: Mapping[str, Any],
                  specs: Mapping[str, "ComponentSpec"], manifest_steps: list[dict[str, Any]],
                  order: list[str], stages: list[list[str]], cfgs: dict[str, dict[str, Any]]) -> CompiledPipeline:
        used_specs = {spec.name: spec for spec in specs.values()}
        cfgs = {step_id: normalize(cfg) for step_id, cfg in cfgs.items()}
        params_data = normalize(dict(param_values))
        manifest: dict[str, Any] = {
            "compiler": {"name": COMPILER_NAME, "version": COMPILER_VERSION},
            "fingerprints": {
                "compiler": fingerprint({"name": COMPILER_NAME, "version": COMPILER_VERSION}),
                "oml": fingerprint(resolved_data),
                "params": fingerprint(params_data),
                "specs": {
                    name: fingerprint({"name": name, "version": spec.version, "content": spec.fingerprint})
                    for name, spec in sorted(used_specs.items())
                },
            },
            "name": resolved_data.get("name"),
            "oml_version": resolved_data.get("oml_version"),
            "params": params_data,
            "profile": self.profile,
            "plan": {"order": order, "stages": stages},
            "steps": manifest_steps,
        }
        if "metadata" in resolved_data:
            manifest["metadata"] = resolved_data["metadata"]
        manifest = normalize(manifest)
        manifest["fingerprints"]["manifest"] = manifest_fingerprint(manifest, cfgs)
        return CompiledPipeline(manifest, cfgs)

    # Params.

    def _resolve_params(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        decls, problems = declared_params(data)
        resolved = resolve_params(decls, data=data, cli=self.cli_params, env=self.env, profile=self.profile)
        for problem in (*problems, *resolved.problems):
            self._param_problem(problem)
        failed = {p.name for p in resolved.problems if p.code == "params.invalid-value"}
        # Declarations (params, profiles) keep their placeholders; everything else is resolved.
        resolved_data: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("params", "profiles"):
                resolved_data[key] = value
                continue
            new_value, _uses, missing = substitute_params(value, resolved.values, (key,))
            resolved_data[key] = new_value
            for use in missing:
                if use.name in failed:
                    continue
                if use.name not in decls:  # the validator reports `params.undeclared` on the document as written
                    self.unresolvable = True
                    continue
                self.error("params.unresolved", f"param `{use.name}` has no value (used at {_dotted(use.path)})",
                           self.doc.range_of(use.path),
                           fix=f"pass --param {use.name}=..., set {env_name(use.name)}, or give it a default",
                           data={"param": use.name, "path": list(use.path)})
        return resolved_data, dict(resolved.values)

    def _param_problem(self, problem: ParamProblem) -> None:
        rng = self.doc.range_of(problem.path, key=problem.key) if problem.path else Range()
        self.error(problem.code, problem.message, rng, fix=problem.fix, data={"param": problem.name},
                   severity=Severity.WARNING if problem.warning else Severity.ERROR)

    # Steps.

    def _specs(self, steps: list["StepView"]) -> dict[str, "ComponentSpec"] | None:
        """Each step's spec, and what only the outputs need: ids that name files, and a driver."""
        specs: dict[str, "ComponentSpec"] = {}
        by_name: dict[str | None, "ComponentSpec | None"] = {}
        seen_files: dict[str, str] = {}
        for step in steps:
            unsafe = unsafe_step_id(step.id) if step.id else "is missing"
            if unsafe:
                self.error("compile.invalid-step-id", f"step id {unsafe}", step.id_range if step.id else step.range,
                           fix="use letters, digits, `-`, `_` and `.`, starting with a letter or digit")
                continue
            folded = step.id.lower()
            if folded in seen_files:
                self.error("compile.duplicate-step-id",
                           f"step ids `{seen_files[folded]}` and `{step.id}` differ only in case (or repeat)",
                           step.id_range, fix="give every step a distinct id")
                continue
            seen_files[folded] = step.id
            if step.component not in by_name:  # one registry lookup per component, not per step
                by_name[step.component] = self.registry.get(step.component) if step.component else None
            spec = by_name[step.component]
            if spec is None or step.component_mode is None or step.component_mode not in spec.modes:
                # oml.unknown-component / oml.incompatible-mode have stopped the compile before.
                self.error("compile.internal", f"step `{step.id}`: no spec for this component and mode", step.component_range)
                continue
            if not spec.driver:
                self.error("compile.no-driver", f"step `{step.id}`: component {spec.name} has no runtime driver",
                           step.component_range, fix="pick a component with `x-runtime.driver` in its spec")
                continue
            specs[step.id] = spec
        if len(specs) != len(steps):
            return None
        return specs

    def _connection_ref(self, spec: "ComponentSpec", cfg: Mapping[str, Any]) -> str | None:
        """The alias the step uses, as `@family.alias`: as written, else the family default found in
        the connections file (the validator has reported a missing one), else None (picked at run time)."""
        from osiris_runtime.oml.connections import ResolvedAlias, resolve_step_alias, takes_connection

        written = cfg.get("connection")
        if isinstance(written, str):
            return written
        if self.connections is None or not takes_connection(spec):
            return None
        chosen = resolve_step_alias(self.connections, spec.family)
        return chosen.ref if isinstance(chosen, ResolvedAlias) else None

# --- pure helpers -------------------------------------------------------------------------------


def _validate(doc: "OmlDocument", registry: "Registry", *, connections: "ConnectionsFile | None",
              mode: CompileMode, params_resolved: bool) -> list[Diagnostic]:
    from osiris_runtime.oml.rules import validate

    found = validate(doc, registry, connections=connections, strict=mode == "strict", params_resolved=params_resolved)
    if mode == "off":
        found = [d for d in found if not d.code.startswith(_CONFIG_FAMILY)]
    return list(found)


def _apply_mode(diagnostics: list[Diagnostic], mode: CompileMode) -> list[Diagnostic]:
    if mode != "strict":
        return diagnostics
    return [replace(d, severity=Severity.ERROR) if d.severity is Severity.WARNING else d for d in diagnostics]


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """A param value the compiler finds invalid and the validator's check of the same declaration
    (`params.invalid-value` / `params.bad-default`) are one problem: one error per (family, place)."""
    seen: set[tuple[str, Range]] = set()
    out: list[Diagnostic] = []
    for diag in diagnostics:
        key = (diag.code.split(".", 1)[0] if diag.is_error else diag.code, diag.range)
        if key not in seen:
            seen.add(key)
            out.append(diag)
    return out


def _sorted(diagnostics: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    return tuple(sorted(diagnostics, key=lambda d: (d.range.start, d.range.end, -int(d.severity), d.code)))


def _fill_defaults(spec: "ComponentSpec", config: dict[str, Any]) -> dict[str, Any]:
    """Spec defaults for absent fields, except the ones a connection supplies or secrets.

    Filling `host: localhost` would override the connection's host at run time.
    """
    out = dict(config)
    for name, schema in spec.properties.items():
        if name in out or not isinstance(schema, Mapping) or "default" not in schema:
            continue
        if name in spec.connection_fields or name in spec.secret_roots:
            continue
        out[name] = schema["default"]
    return out


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    write_atomically(path, data)
