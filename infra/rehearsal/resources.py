"""The CloudFormation resources a SAM template becomes (SAM's translator, run by `translate.py` in the SAM CLI's
venv), counted by type, and the dependency cycle CloudFormation would refuse, if any."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


def by_type(template: Mapping[str, Any]) -> Counter[str]:
    return Counter(resource["Type"] for resource in template["Resources"].values())


def _names(node: Any) -> Iterator[str]:
    """Logical names a node refers to: Ref, Fn::GetAtt, and ${Name} / ${Name.Attr} in Fn::Sub strings."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                yield str(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    yield from (name.split(".", 1)[0] for name in _SUB_NAME.findall(text))
                if isinstance(value, list) and len(value) > 1:
                    yield from _names(value[1])
            else:
                yield from _names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _names(item)


def dependencies(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """Each resource -> the resources it needs first (references and DependsOn)."""
    resources = template["Resources"]
    graph = {}
    for name, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        needed = set([depends_on] if isinstance(depends_on, str) else depends_on)
        needed |= set(_names(resource.get("Properties", {})))
        graph[name] = {other for other in needed if other in resources and other != name}
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One dependency cycle (its resources in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                return [*path[path.index(other) :], other]
            if other not in state and (cycle := visit(other)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None
