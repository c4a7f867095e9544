"""The packages import each other one way: util <- data <- models <- options <- training. Every import in data/,
models/, options/, training/ and util/ is read (at the top of a module and inside functions alike); a cycle between
packages, or an import against that order, fails naming the files."""
import ast
from pathlib import Path

from tiny_runs import REPO

ORDER = ('util', 'data', 'models', 'options', 'training')  # each may import only those before it


def imported_packages(path: Path) -> dict[str, list[int]]:
    """The project packages that `path` imports (absolutely or relatively), with the lines."""
    package = path.parent.name
    found: dict[str, list[int]] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [package] if node.level else [node.module or '']
        else:
            continue
        for name in names:
            top = name.split('.')[0]
            if top in ORDER and top != package:
                found.setdefault(top, []).append(node.lineno)
    return found


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> the 'file:line' places that import it."""
    graph: dict[str, dict[str, list[str]]] = {package: {} for package in ORDER}
    for package in ORDER:
        for path in sorted((REPO / package).glob('*.py')):
            for target, lines in imported_packages(path).items():
                graph[package].setdefault(target, []).extend(f'{package}/{path.name}:{line}' for line in lines)
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """Some cycle of packages, as a path that returns to its start; None when the graph has none."""
    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        for target in graph[node]:
            cycle = visit(target, path + [node])
            if cycle:
                return cycle
        return None

    for start in graph:
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_no_package_imports_one_that_imports_it_back():
    graph = package_graph()
    cycle = find_cycle(graph)
    assert cycle is None, 'packages import in a circle: ' + ' -> '.join(
        f'{a} ({", ".join(graph[a][b][:2])})' for a, b in zip(cycle, cycle[1:])) + f' -> {cycle[-1]}'


def test_imports_follow_util_data_models_options_training():
    graph = package_graph()
    against = [f'{package} imports {target} at {", ".join(places)}' for package, targets in graph.items()
               for target, places in targets.items() if ORDER.index(target) > ORDER.index(package)]
    assert not against, '; '.join(against)


def test_the_reader_finds_imports_inside_functions(tmp_path):
    module = tmp_path / 'util' / 'example.py'
    module.parent.mkdir()
    module.write_text('import os\n\n\ndef late():\n    from training import state\n    import models.networks\n')
    assert imported_packages(module) == {'training': [5], 'models': [6]}
