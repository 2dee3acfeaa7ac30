"""gazsl's floors hold: no import cycle among its modules, and no room imports one beside or above it.

Imports inside functions count (the way a loop usually hides), subpackages included.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gazsl"


def module_name(package: Path, path: Path) -> str:
    """gazsl.store.feature_store for gazsl/store/feature_store.py; a package's __init__ is the package itself."""
    parts = ["gazsl", *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """module -> the gazsl modules it imports anywhere in its file, subpackages included."""
    files = {module_name(package, p): p for p in sorted(package.rglob("*.py"))}
    graph = {}
    for name, path in files.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in files:
                # from gazsl.store import splits: the submodule; from gazsl import GAZSL: the package
                imported |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                             for a in node.names}
        graph[name] = imported - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None."""
    state, path = {}, []

    def visit(node):
        state[node], path[len(path):] = "open", [node]
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_loop_hidden_in_a_function(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "text.py").write_text("def read():\n    from gazsl.release import load_mat\n")
    (tmp_path / "release.py").write_text("from gazsl import text\n")
    (tmp_path / "io.py").write_text("import os\n")
    assert find_cycle(import_graph(tmp_path)) == ["gazsl.release", "gazsl.text", "gazsl.release"]


def test_the_cycle_finder_follows_imports_into_subpackages(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "room").mkdir()
    (tmp_path / "room" / "__init__.py").write_text("")
    (tmp_path / "room" / "store.py").write_text("import gazsl.text\n")
    (tmp_path / "text.py").write_text("def read():\n    from gazsl.room import store\n")
    assert find_cycle(import_graph(tmp_path)) == ["gazsl.room.store", "gazsl.text", "gazsl.room.store"]


def test_no_import_cycle_among_gazsl_modules():
    graph = import_graph(PACKAGE)
    assert {"gazsl.protocols.protocol", "gazsl.protocols.training"} <= graph["gazsl.train"]
    assert {"gazsl.generator.gan", "gazsl.generator.trainer"} <= graph["gazsl.protocols.training"]
    assert "gazsl.store.feature_store" in graph["gazsl.datasets.stores"]  # subpackages are read too
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# The commands: gazsl.<command> modules with a main (gazsl.__main__ lists them), the top floor.
COMMANDS = {"gazsl.__main__", "gazsl.aviary", "gazsl.data", "gazsl.leaderboard", "gazsl.predict", "gazsl.reproduce",
            "gazsl.serve", "gazsl.text", "gazsl.train", "gazsl.tune"}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every gazsl module ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_reachable_follows_imports_through_other_modules():
    assert reachable({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a"}}, "a") == {"b", "c"}


def test_the_generator_needs_nothing_of_the_floors_built_on_it():
    graph = import_graph(PACKAGE)
    generator = [m for m in graph if m.startswith("gazsl.generator")]
    assert "gazsl.generator.checkpoint" in graph["gazsl.generator.trainer"]
    for module in generator:
        above = {m for m in reachable(graph, module)
                 if m in COMMANDS or m.startswith(("gazsl.protocols", "gazsl.tuning"))}
        assert not above, f"{module} imports {sorted(above)}"


# The floors, bottom up (docs/architecture.md, "The package, floor by floor"). A module may import its own
# room and the floors below its own, nothing beside or above. Floor 0 is the infrastructure every floor uses; the
# commands (every other top-level module, and the package itself) are the top floor.
INFRASTRUCTURE = {"gazsl.io", "gazsl.interrupt", "gazsl.version", "gazsl.progress", "gazsl.plugins"}
FLOORS = {"gazsl.store": 1,
          "gazsl.documents": 2, "gazsl.vision": 2, "gazsl.scoring": 2,
          "gazsl.datasets": 3, "gazsl.generator": 3,
          "gazsl.protocols": 4,
          "gazsl.tuning": 5, "gazsl.serving": 5}
TOP = 6


def room(module: str) -> str:
    """gazsl.store for gazsl.store.splits; a top-level module is a room of its own."""
    return ".".join(module.split(".")[:2])


def floor(module: str) -> int:
    if module in INFRASTRUCTURE:
        return 0
    return FLOORS.get(room(module), TOP)


def upward_or_sideways(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a room beside or above the importer's floor, as 'importer -> imported' (the infrastructure's
    modules may use each other)."""
    return sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                  if room(d) != room(m) and floor(d) >= floor(m) and floor(d) > 0)


def test_the_floor_check_catches_sideways_and_upward_imports():
    graph = {"gazsl.documents.encoders": {"gazsl.store.feature_store", "gazsl.vision.backbone"},
             "gazsl.store.feature_store": {"gazsl.io", "gazsl.datasets.stores"},
             "gazsl.scoring.evaluate": {"gazsl.generator.model"},
             "gazsl.generator.trainer": {"gazsl.protocols.runs", "gazsl.generator.checkpoint"},
             "gazsl.datasets.build": {"gazsl.documents.corpus", "gazsl.vision.backbone", "gazsl.store.splits"}}
    assert upward_or_sideways(graph) == ["gazsl.documents.encoders -> gazsl.vision.backbone",
                                         "gazsl.generator.trainer -> gazsl.protocols.runs",
                                         "gazsl.scoring.evaluate -> gazsl.generator.model",
                                         "gazsl.store.feature_store -> gazsl.datasets.stores"]


def test_every_room_stands_only_on_the_floors_below_it():
    graph = import_graph(PACKAGE)
    rooms = {room(m) for m in graph if m.count(".") >= 1 and (PACKAGE / m.split(".")[1]).is_dir()}
    assert rooms <= set(FLOORS), f"rooms without a floor: {sorted(rooms - set(FLOORS))}"
    assert upward_or_sideways(graph) == []
