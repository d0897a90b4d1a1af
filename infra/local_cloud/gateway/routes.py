"""Which route serves a request: the resource first (literal segments win over `{param}`, which wins over
`{proxy+}`), then its method."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from ..server import LocalCloudError
from .request import segments


@dataclass(frozen=True)
class Route:
    resource: str  # the path template, e.g. /v1/leads/{id}
    method: str  # upper case, or ANY
    function_id: str
    authorizer: str | None  # the authorizer's name, or None (no authorizer)
    api_key_required: bool = False


def _segment_rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 2
    if segment.startswith("{") and segment.endswith("}"):
        return 1
    return 0


def _match_resource(template: list[str], path: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, segment in enumerate(template):
        rank = _segment_rank(segment)
        if rank == 2:  # greedy: the rest of the path, at least one segment
            if index >= len(path):
                return None
            parameters[segment[1:-2]] = "/".join(path[index:])
            return parameters
        if index >= len(path):
            return None
        if rank == 1:
            parameters[segment[1:-1]] = path[index]
        elif segment != path[index]:
            return None
    return parameters if len(template) == len(path) else None


class RouteTable:
    """Resources (path templates) and their methods."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = list(routes)
        self._resources: dict[str, dict[str, Route]] = {}
        for route in routes:
            methods = self._resources.setdefault(route.resource, {})
            if route.method in methods:
                raise LocalCloudError(f"two functions serve {route.method} {route.resource}")
            methods[route.method] = route

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `method` on `path` (without the stage) and its path parameters; None when API Gateway
        would answer Missing Authentication Token (no such resource, or no such method on it)."""
        wanted = [unquote(segment) for segment in segments(path)]
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for resource in self._resources:
            template = segments(resource)
            parameters = _match_resource(template, wanted)
            if parameters is None:
                continue
            key = tuple(_segment_rank(segment) for segment in template)
            if best is None or key < best[0]:
                best = (key, resource, parameters)
        if best is None:
            return None
        methods = self._resources[best[1]]
        route = methods.get(method.upper()) or methods.get("ANY")
        return (route, best[2]) if route is not None else None
