"""Which layers each function deploys with, read from template.yaml: Lambda's 250 MB unzipped limit applies to a
function's code plus all its layers, so the size check and the smoke test go function by function.

A function's layers are `Globals.Function.Layers` followed by its own `Properties.Layers` (SAM appends a
resource's list to the Globals' one; it never replaces it). Each must be a `!Ref` to an `AWS::Serverless::LayerVersion` whose ContentUri is a
directory this build makes (`build/package/<arch>/<name>/`): its artifact is `<name>.zip`. A functions/<name>/
directory the template does not (yet) declare is counted with the Globals' layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.packaging.config import PackagingError

_CONTENT_URI = re.compile(r"^build/package/[^/]+/(?P<name>[\w-]+)/?$")
_CODE_URI = re.compile(r"^functions/(?P<name>[\w-]+)/?$")


@dataclass(frozen=True)
class FunctionLayers:
    function: str  # the functions/<name>/ directory
    resource: str | None  # the template's function, None when the template does not declare one
    layers: tuple[str, ...]  # the layer artifacts' names (deps, core, training, ...), in the template's order


def _resources(template: Mapping[str, Any]) -> dict[str, Any]:
    resources = template.get("Resources")
    return resources if isinstance(resources, dict) else {}


def _function_globals(template: Mapping[str, Any]) -> dict[str, Any]:
    globals_section = template.get("Globals")
    function = globals_section.get("Function") if isinstance(globals_section, dict) else None
    return function if isinstance(function, dict) else {}


def layer_artifacts(template: Mapping[str, Any]) -> dict[str, str]:
    """Each layer resource built by `make package` -> its artifact's name (`build/package/arm64/deps/` -> deps)."""
    found = {}
    for name, resource in _resources(template).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::LayerVersion":
            continue
        uri = (resource.get("Properties") or {}).get("ContentUri")
        match = _CONTENT_URI.match(uri) if isinstance(uri, str) else None
        if match:
            found[name] = match.group("name")
    return found


def _layer_names(layers: Any, artifacts: Mapping[str, str], where: str) -> tuple[str, ...]:
    if not isinstance(layers, list):
        raise PackagingError(f"{where}: Layers is not a list")
    names = []
    for layer in layers:
        reference = layer.get("Ref") if isinstance(layer, dict) else None
        if not isinstance(reference, str) or reference not in artifacts:
            raise PackagingError(
                f"{where}: layer {layer!r} is not a !Ref to a layer make package builds (build/package/<arch>/...): "
                "its size cannot be checked"
            )
        names.append(artifacts[reference])
    return tuple(names)


def function_layers(template: Mapping[str, Any]) -> dict[str, FunctionLayers]:
    """The template's functions whose CodeUri is `functions/<name>/`, by that name, with their layers."""
    artifacts = layer_artifacts(template)
    function_globals = _function_globals(template)
    found = {}
    for resource_name, resource in _resources(template).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties") or {}
        uri = properties.get("CodeUri", function_globals.get("CodeUri"))
        match = _CODE_URI.match(uri) if isinstance(uri, str) else None
        if not match:
            continue
        layers = [*function_globals.get("Layers", []), *properties.get("Layers", [])]
        names = _layer_names(layers, artifacts, resource_name)
        found[match.group("name")] = FunctionLayers(match.group("name"), resource_name, names)
    return found


def layers_for(functions: Iterable[str], template: Mapping[str, Any]) -> dict[str, FunctionLayers]:
    """The layers of each function directory built: the template's, or the Globals' for one it does not declare."""
    declared = function_layers(template)
    default = _layer_names(_function_globals(template).get("Layers", []), layer_artifacts(template), "Globals")
    return {name: declared.get(name, FunctionLayers(name, None, default)) for name in functions}
