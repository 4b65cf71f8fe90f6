"""The execution plan: steps read from a compiled manifest, grouped into flows.

A *data edge* joins a step to an upstream step that produces a stream (every mode but `write`);
a *control edge* joins it to an upstream writer (wait until that writer has finished). Steps
joined by data edges form a *flow*: they run together, each on its own thread, batches streaming
between them. Flows are the unit of parallelism (`--max-parallel`): a flow starts once every flow
holding one of its control dependencies has finished. Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from osiris_runtime.errors import CompileFailed

# Component modes whose driver returns no stream.
SINK_MODES = frozenset({"write", "load"})


@dataclass(frozen=True)
class StepPlan:
    id: str
    component: str
    mode: str
    driver: str | None
    connection: str | None
    needs: tuple[str, ...]
    config: Mapping[str, Any]

    @property
    def family(self) -> str:
        return self.component.split(".", 1)[0]

    @property
    def produces_stream(self) -> bool:
        return self.mode not in SINK_MODES


@dataclass(frozen=True)
class Flow:
    steps: tuple[str, ...]  # in manifest order
    after: frozenset[int]  # indices of flows that must finish first


def steps_from_manifest(manifest: Mapping[str, Any], cfgs: Mapping[str, Mapping[str, Any]]) -> tuple[StepPlan, ...]:
    """The manifest's steps in plan order, each with its cfg (minus the `connection` reference)."""
    raw_steps = {str(s["id"]): s for s in manifest.get("steps") or []}
    order = list((manifest.get("plan") or {}).get("order") or raw_steps)
    if set(order) != set(raw_steps):
        raise CompileFailed("manifest plan.order does not list exactly the manifest's steps", code="run.bad-manifest",
                            fix="recompile the pipeline")
    plans = []
    for step_id in order:
        raw = raw_steps[step_id]
        cfg = dict(cfgs.get(step_id) or {})
        connection = raw.get("connection") or cfg.pop("connection", None)
        cfg.pop("connection", None)
        plans.append(
            StepPlan(
                id=step_id,
                component=str(raw["component"]),
                mode=str(raw.get("mode") or ""),
                driver=raw.get("driver"),
                connection=connection,
                needs=tuple(str(n) for n in raw.get("needs") or ()),
                config=cfg,
            )
        )
    _check_order(plans)
    return tuple(plans)


def _check_order(steps: Sequence[StepPlan]) -> None:
    seen: set[str] = set()
    for step in steps:
        for need in step.needs:
            if need not in seen:
                raise CompileFailed(
                    f"step `{step.id}` needs `{need}`, which does not come before it in the plan",
                    code="run.bad-manifest",
                    fix="recompile the pipeline",
                )
        seen.add(step.id)


def data_inputs(step: StepPlan, by_id: Mapping[str, StepPlan]) -> tuple[str, ...]:
    return tuple(n for n in step.needs if by_id[n].produces_stream)


def control_inputs(step: StepPlan, by_id: Mapping[str, StepPlan]) -> tuple[str, ...]:
    return tuple(n for n in step.needs if not by_id[n].produces_stream)


def consumers_of(steps: Sequence[StepPlan]) -> dict[str, tuple[str, ...]]:
    """Upstream id -> the steps that read its stream, in plan order."""
    by_id = {s.id: s for s in steps}
    out: dict[str, list[str]] = {s.id: [] for s in steps}
    for step in steps:
        for upstream in data_inputs(step, by_id):
            out[upstream].append(step.id)
    return {k: tuple(v) for k, v in out.items()}


def needs_spill(step: StepPlan) -> bool:
    """A step waiting on more than one upstream must not block its producers (see channels)."""
    return len(step.needs) > 1


def plan_flows(steps: Sequence[StepPlan]) -> tuple[Flow, ...]:
    """Group steps into flows and order them; flows whose control edges form a cycle are merged."""
    by_id = {s.id: s for s in steps}
    index = {s.id: i for i, s in enumerate(steps)}
    parent = list(range(len(steps)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for step in steps:
        for upstream in data_inputs(step, by_id):
            union(index[upstream], index[step.id])

    while True:
        groups = _groups(steps, find)
        group_of = {sid: g for g, members in enumerate(groups) for sid in members}
        edges = {g: set() for g in range(len(groups))}
        for step in steps:
            for upstream in control_inputs(step, by_id):
                a, b = group_of[upstream], group_of[step.id]
                if a != b:
                    edges[b].add(a)
        cycle = _find_cycle(edges)
        if not cycle:
            return tuple(Flow(tuple(members), frozenset(edges[g])) for g, members in enumerate(groups))
        first = index[groups[cycle[0]][0]]
        for g in cycle[1:]:
            union(first, index[groups[g][0]])


def _groups(steps: Sequence[StepPlan], find: Any) -> list[list[str]]:
    roots: dict[int, list[str]] = {}
    for i, step in enumerate(steps):
        roots.setdefault(find(i), []).append(step.id)
    return list(roots.values())  # dicts keep insertion order: flows in order of their first step


def _find_cycle(edges: Mapping[int, set[int]]) -> list[int]:
    """Nodes of one cycle in a small graph (node -> nodes it waits for), or [] when acyclic."""
    state: dict[int, int] = {}
    stack: list[int] = []

    def visit(node: int) -> list[int]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []
