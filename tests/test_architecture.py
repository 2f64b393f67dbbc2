"""The import graph keeps the layers: the platform below the contract, both libraries below the services, the
services below the CLI, the agent apart; and no package imports itself in a circle.

| layer | packages | may import |
| --- | --- | --- |
| CLI | `assist` (src/assist) | anything: it starts and administers the services and runs the agent |
| service | `services/*/src/*` | libraries only: services talk to each other through NATS, never by import |
| library: contract | `assist_contract` (libs/contract) | the platform: what the services say to each other over NATS |
| library: platform | `assist_platform` (libs/platform) | no other package of ours: the mechanisms under everything |
| agent | `agent/src/*` | nothing of ours: it is installed alone on the customer's computer |

Every import counts, one inside a function or under `TYPE_CHECKING` too: an import moved into a function to dodge a
circle is still a circle (move what both sides need instead). grimp reads the sources, so nothing is imported.
A failure names each offending chain, module by module, with the line of each import.
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _packages(pattern: str) -> list[str]:
    return sorted(init.parent.name for init in ROOT.glob(f"{pattern}/__init__.py"))


LIBRARIES = _packages("libs/*/src/*")
SERVICES = _packages("services/*/src/*")
AGENT = _packages("agent/src/*")
CLI = ["assist"]
PACKAGES = [*LIBRARIES, *SERVICES, *AGENT, *CLI]


def test_every_part_of_the_tree_is_in_a_layer() -> None:
    # A glob that finds nothing would make the checks below pass vacuously.
    assert {"assist_platform", "assist_contract"} <= set(LIBRARIES) and "assist_agent" in AGENT
    assert {"assist_consent", "assist_session", "assist_billing", "assist_gateway"} <= set(SERVICES)
    assert (ROOT / "src/assist/__init__.py").is_file()


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _describe(graph: grimp.ImportGraph, chain: tuple[str, ...] | list[str]) -> str:
    """`a -> b -> c`, each step with the line that imports."""
    steps = [chain[0]]
    for importer, imported in pairwise(chain):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = f"  (line {details[0]['line_number']}: {details[0]['line_contents']})" if details else ""
        steps.append(f"  -> {imported}{where}")
    return "\n".join(steps)


def _strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components of more than one module (iterative: the gateway alone has ~90 modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            step = next(successors, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(edges[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def _cycle_through(start: str, component: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest circle from `start` back to itself inside its component."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for step in sorted(edges[node] & component):
            if step == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if step not in came_from:
                came_from[step] = node
                queue.append(step)
    raise AssertionError(f"{start} is in a component but on no circle")


def _cycles(nodes: list[str], edges: dict[str, set[str]]) -> list[tuple[list[str], set[str]]]:
    """One circle of each tangle, and all the modules of the tangle (each reaches every other)."""
    return [(_cycle_through(min(component), component, edges), component)
            for component in _strongly_connected(nodes, edges)]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_itself_in_a_circle(graph: grimp.ImportGraph, package: str) -> None:
    modules = sorted(m for m in graph.modules if _top(m) == package)
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if _top(i) == package} for m in modules}
    circles = _cycles(modules, edges)
    assert not circles, f"{package} imports itself in a circle:\n\n" + "\n\n".join(
        f"{_describe(graph, circle)}\n({len(tangle)} modules in this tangle: {', '.join(sorted(tangle))})"
        for circle, tangle in circles
    )


def test_no_two_packages_import_each_other_even_through_others(graph: grimp.ImportGraph) -> None:
    edges: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for module in graph.modules:
        edges[_top(module)] |= {_top(i) for i in graph.find_modules_directly_imported_by(module)} - {_top(module)}
    circles = _cycles(PACKAGES, edges)
    assert not circles, "packages import each other in a circle:\n" + "\n".join(
        " -> ".join(circle) for circle, _tangle in circles
    )


def _forbidden() -> list:
    """(importer, imported, why) for every pair of packages the layers keep apart."""
    rules: list[tuple[str, str, str]] = []
    for library in LIBRARIES:
        rules += [(library, other, "a library imports no service, agent or CLI") for other in [*SERVICES, *AGENT, *CLI]]
    rules += [("assist_platform", other, "the platform is below every other library (the contract builds on it)")
              for other in LIBRARIES if other != "assist_platform"]
    for service in SERVICES:
        rules += [(service, other, "a service talks to other services through NATS, never by import")
                  for other in SERVICES if other != service]
        rules += [(service, other, "a service imports neither the agent nor the CLI") for other in [*AGENT, *CLI]]
    for agent in AGENT:
        rules += [(agent, other, "the agent is installed alone: it imports nothing of ours")
                  for other in [*LIBRARIES, *SERVICES, *CLI]]
    return [pytest.param(*rule, id=f"{rule[0]}-{rule[1]}") for rule in rules]


@pytest.mark.parametrize(("importer", "imported", "why"), _forbidden())
def test_the_layers_are_kept(graph: grimp.ImportGraph, importer: str, imported: str, why: str) -> None:
    chains = graph.find_shortest_chains(importer=importer, imported=imported)
    assert not chains, f"{importer} imports {imported} ({why}):\n\n" + "\n\n".join(
        _describe(graph, chain) for chain in sorted(chains)
    )
