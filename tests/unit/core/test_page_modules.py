"""The softphone page's ES modules import each other without a cycle.

A cycle makes a module's exports undefined while its importers still run (the order of
evaluation decides), and it ties every feature to every other: the page's modules talk
through the event emitter in events.js instead. There is no build step to check this, so it
is checked here, by reading the import lines the browser reads.
"""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[3] / "static" / "softphone"
# The module that wires the page together; only it may reach render.js.
ENTRY = "softphone.js"

# `import {...} from "./x.js"` (over several lines too), `import "./x.js"` and `import("./x.js")`;
# `import.meta` is no import.
_IMPORT = re.compile(
    r"""\bimport\s*(?:\(\s*|[\w$*{}\s,]*?\bfrom\s*)["']\./([^"'/]+\.js)["']""",
    re.MULTILINE,
)


def import_graph() -> dict[str, list[str]]:
    """Each page module's name mapped to the page modules it imports, in file order."""
    graph: dict[str, list[str]] = {}
    for path in sorted(PAGE.glob("*.js")):
        graph[path.name] = _IMPORT.findall(path.read_text(encoding="utf-8"))
    return graph


def find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """One import cycle as a path that ends where it starts, or [] when there is none."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str]:
        path.append(node)
        on_path.add(node)
        for target in graph.get(node, []):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done:
                found = visit(target)
                if found:
                    return found
        on_path.discard(path.pop())
        done.add(node)
        return []

    for start in graph:
        if start not in done:
            found = visit(start)
            if found:
                return found
    return []


def test_parser_reads_the_page_imports() -> None:
    """The parser sees the multi-line import and only real modules, so a pass means something."""
    graph = import_graph()
    assert "call-screen.js" in graph[ENTRY]
    assert "session.js" in graph[ENTRY]
    assert all(target in graph for targets in graph.values() for target in targets)
    assert find_cycle({"a.js": ["b.js"], "b.js": ["c.js"], "c.js": ["a.js"]}) == [
        "a.js",
        "b.js",
        "c.js",
        "a.js",
    ]


def test_page_modules_have_no_import_cycle() -> None:
    """No chain of imports among static/softphone/*.js leads back to where it started."""
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle among the page's modules: " + " -> ".join(cycle)


def test_only_the_entry_imports_render() -> None:
    """Feature modules ask for a redraw with emit("changed"); render.js is no hub they import."""
    importers = sorted(n for n, targets in import_graph().items() if "render.js" in targets)
    assert importers == [ENTRY], f"modules importing render.js: {importers}"
