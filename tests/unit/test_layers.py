"""The package's layers: who may import whom, checked on the source, and drawn in the docs.

science (arrays in, arrays out) and io (files) never import each other; the plan (what a
run does, the master lookup with it), the typed settings, steps, the CLI, the browser and the
public API sit above them (the package imports the API lazily, by name, and nothing else
imports it); nothing imports benchmarks/; no import cycles. docs/development.md draws the
same graph (mermaid), kept in step here.
"""

import ast
import re
from pathlib import Path

REPO = Path(__file__).parents[2]
PACKAGE = REPO / "skyrms"

ALLOWED = {
    "science": {"science"},
    "io": {"io", "__init__"},
    "plan": {"plan", "io", "settings"},
    "settings": {"science", "io"},
    "steps": {"steps", "science", "io", "plan", "settings"},
    "job": {"io"},
    "config": {"io", "settings"},
    "demo": {"demo", "io", "science", "steps", "plan"},
    "browse": {"io", "plan", "settings"},
    "api": {"api", "browse", "cli", "config", "io", "plan", "science", "settings", "steps"},
    "cli": {"__init__", "browse", "config", "io", "science", "settings", "steps"},
    "__main__": {"cli"},
    "__init__": set(),
}
"""Layer -> the layers its modules may import (their own included)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Modules of skyrms (and benchmarks) that a source file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules or name.split(".")[0] == "benchmarks"}


def layer(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_belongs_to_a_known_layer():
    assert {layer(m) for m in graph()} <= set(ALLOWED)


def test_imports_follow_the_layers():
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if target.startswith("benchmarks") or layer(target) not in ALLOWED[layer(module)]
    ]
    assert not wrong, wrong


def test_science_and_io_never_import_each_other():
    edges = {(layer(m), layer(t)) for m, ts in graph().items() for t in ts}
    assert ("science", "io") not in edges and ("io", "science") not in edges


def test_no_import_cycles():
    modules = graph()
    visiting, done = set(), set()

    def visit(module, trail):
        if module in done:
            return
        assert module not in visiting, " -> ".join([*trail, module])
        visiting.add(module)
        for target in modules.get(module, ()):
            if target in modules and target != module:
                visit(target, [*trail, module])
        visiting.discard(module)
        done.add(module)

    for module in modules:
        visit(module, [])


def test_the_drawing_in_the_docs_is_the_import_graph():
    text = (REPO / "docs" / "development.md").read_text()
    drawing = re.search(r"```mermaid\n(.*?)```", text, re.S).group(1)
    drawn = set(re.findall(r"^\s*(\w+) --> (\w+)\s*$", drawing, re.M))
    actual = {
        (layer(m), layer(t))
        for m, ts in graph().items()
        for t in ts
        if layer(m) != layer(t) and layer(t) != "__init__"
    }
    assert drawn == actual


def test_header_keywords_are_spelled_in_one_module_only():
    """Every header keyword is written as a string in skyrms/io/keywords.py alone; writers
    and readers elsewhere use its names (a quoted keyword anywhere else fails)."""
    from skyrms.io import keywords

    names = {str(v) for v in vars(keywords).values() if isinstance(v, keywords.Keyword)}
    names |= {
        f.pattern.split("{")[0] for f in vars(keywords).values() if isinstance(f, keywords.Family)
    }
    names.discard("")
    sources = [*PACKAGE.rglob("*.py"), *(REPO / "scripts").glob("*.py"),
               *(REPO / "workflow" / "rules").glob("*.smk"), REPO / "Snakefile"]  # fmt: skip
    found = [
        f"{path.relative_to(REPO)}: {name}"
        for path in sources
        if path != PACKAGE / "io" / "keywords.py"
        for name in names
        if re.search(rf"[\"']{re.escape(name)}[\"'{{]", path.read_text())
    ]
    assert len(names) > 80 and not found, found
