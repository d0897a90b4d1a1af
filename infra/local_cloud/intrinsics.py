"""CloudFormation's intrinsic functions, evaluated locally against the resources the local cloud created.

`Resolver` turns template data (as `infra.template.load_template` returns it) into concrete values: `Ref`
(parameters, pseudo parameters, resources), `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`,
`Fn::FindInMap`, `Fn::If` with the template's `Conditions` (`Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`,
`Condition`), `Fn::Base64`, `Fn::GetAZs`, `Fn::ToJsonString` and `Fn::Length`. `Ref: AWS::NoValue` removes the
key or list item it stands in. A reference to a resource that was not created locally (skipped, or not created yet)
raises `UnresolvableError` naming it: the local cloud never invents a value.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .server import ACCOUNT_ID, REGION, LocalCloudError

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class UnresolvableError(LocalCloudError):
    """An intrinsic function whose value the local cloud does not have (or a malformed one)."""


@dataclass(frozen=True)
class CreatedResource:
    """A resource that exists on the local endpoint: what `Ref` and `Fn::GetAtt` return for it."""

    logical_id: str
    type: str
    physical_id: str  # the value of `Ref`, as CloudFormation returns it for this type
    attributes: Mapping[str, str] = field(default_factory=dict)  # the values of `Fn::GetAtt`


@dataclass(frozen=True)
class SkippedResource:
    """A resource the local cloud does not create (with the reason), so that nothing is dropped silently."""

    logical_id: str
    type: str
    reason: str


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every template parameter's value: the override if given, else its Default; checked against AllowedValues
    and AllowedPattern. List types (`CommaDelimitedList`, `List<...>`) become lists."""
    declared = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise UnresolvableError(f"unknown parameter(s) {', '.join(unknown)}; the template declares {sorted(declared)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise UnresolvableError(f"parameter {name} has no Default: give it a value")
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value)
            continue
        text = str(value)
        allowed = spec.get("AllowedValues")
        if isinstance(allowed, list) and text not in [str(item) for item in allowed]:
            raise UnresolvableError(f"parameter {name}={text!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if isinstance(pattern, str) and not re.fullmatch(pattern, text):
            raise UnresolvableError(f"parameter {name}={text!r} does not match {pattern}")
        values[name] = text
    return values


def references(node: Any) -> Iterator[str]:
    """Names of the resources (or parameters) `node` refers to via Ref, Fn::GetAtt and Fn::Sub (base names)."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        (key, value), *_ = node.items()
        if key == "Ref" and isinstance(value, str):
            yield value.split(".", 1)[0]
        elif key == "Fn::GetAtt":
            if isinstance(value, str):
                yield value.split(".", 1)[0]
            elif isinstance(value, list) and value and isinstance(value[0], str):
                yield value[0]
        elif key == "Fn::Sub":
            text, local = (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else (value, {})
            if isinstance(text, str):
                for match in _SUB_VARIABLE.finditer(text):
                    name = match.group(1).strip()
                    if name and not name.startswith("!") and name not in (local or {}):
                        yield name.split(".", 1)[0]
            if isinstance(local, dict):
                yield from references(list(local.values()))
            return
    for value in node.values():
        yield from references(value)


class Resolver:
    """Evaluates intrinsic functions for one template, one parameter set and the resources created so far."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any] | None = None,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        stack_name: str = "aiqleads-local",
    ) -> None:
        self.template = template
        self.parameters = parameter_values(template, parameters)
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        self.created: dict[str, CreatedResource] = {}
        self.skipped: dict[str, SkippedResource] = {}
        self._conditions: dict[str, bool] = {}

    # ------------------------------------------------------------------------------------------------ values

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function evaluated (`AWS::NoValue` entries removed)."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._function(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        return self._resource(name, f"!Ref {name}").physical_id

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self._resource(name, f"!GetAtt {name}.{attribute}")
        if attribute not in resource.attributes:
            raise UnresolvableError(
                f"!GetAtt {name}.{attribute}: {resource.type} {name} has no attribute {attribute!r} locally "
                f"(it has {sorted(resource.attributes)})"
            )
        return resource.attributes[attribute]

    def condition(self, name: str) -> bool:
        """The value of one of the template's Conditions (evaluated once)."""
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise UnresolvableError(f"no condition named {name!r}")
            self._conditions[name] = self._truth(conditions[name])
        return self._conditions[name]

    # ------------------------------------------------------------------------------------------------ internals

    def _resource(self, name: str, shown: str) -> CreatedResource:
        if name in self.created:
            return self.created[name]
        base = name.split(".", 1)[0]  # SAM's implicit names: Api.Stage belongs to Api
        if name in self.skipped or base in self.skipped:
            skipped = self.skipped.get(name) or self.skipped[base]
            raise UnresolvableError(f"{shown}: {skipped.type} {name} is not created locally ({skipped.reason})")
        resources = self.template.get("Resources") or {}
        if base in resources:
            raise UnresolvableError(f"{shown}: resource {name} has not been created (yet)")
        raise UnresolvableError(f"{shown}: no parameter or resource named {name!r}")

    def _truth(self, node: Any) -> bool:
        if isinstance(node, bool):
            return node
        if isinstance(node, str) and node.lower() in {"true", "false"}:
            return node.lower() == "true"
        if isinstance(node, dict) and len(node) == 1:
            (key, argument), *_ = node.items()
            if key == "Condition":
                return self.condition(str(argument))
            if key == "Fn::Equals":
                left, right = self._arguments(key, argument, 2)
                return str(self.resolve(left)) == str(self.resolve(right))
            if key == "Fn::Not":
                (inner,) = self._arguments(key, argument, 1)
                return not self._truth(inner)
            if key == "Fn::And":
                return all(self._truth(item) for item in self._arguments(key, argument))
            if key == "Fn::Or":
                return any(self._truth(item) for item in self._arguments(key, argument))
            if key == "Fn::If":
                return self._truth(self._function(key, argument))
        raise UnresolvableError(f"not a condition: {node!r}")

    @staticmethod
    def _arguments(function: str, argument: Any, count: int | None = None) -> list[Any]:
        if not isinstance(argument, list) or (count is not None and len(argument) != count):
            expected = f"{count} arguments" if count is not None else "a list"
            raise UnresolvableError(f"{function} takes {expected}, got {argument!r}")
        return argument

    def _function(self, key: str, argument: Any) -> Any:
        if key == "Ref":
            if not isinstance(argument, str):
                raise UnresolvableError(f"Ref takes a name, got {argument!r}")
            return self.ref(argument)
        if key == "Fn::GetAtt":
            if isinstance(argument, str):
                name, _, attribute = argument.partition(".")
            else:
                name, attribute_node = self._arguments(key, argument, 2)
                attribute = str(self.resolve(attribute_node))
            if not attribute:
                raise UnresolvableError(f"Fn::GetAtt needs Resource.Attribute, got {argument!r}")
            return self.get_att(str(name), attribute)
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Fn::Join":
            delimiter, items = self._arguments(key, argument, 2)
            values = self.resolve(items)
            if not isinstance(values, list):
                raise UnresolvableError(f"Fn::Join needs a list, got {values!r}")
            return str(delimiter).join(str(item) for item in values)
        if key == "Fn::Select":
            index, items = self._arguments(key, argument, 2)
            values = self.resolve(items)
            position = int(self.resolve(index))
            if not isinstance(values, list) or not 0 <= position < len(values):
                raise UnresolvableError(f"Fn::Select index {position} out of range for {values!r}")
            return values[position]
        if key == "Fn::Split":
            delimiter, text = self._arguments(key, argument, 2)
            return str(self.resolve(text)).split(str(delimiter))
        if key == "Fn::FindInMap":
            map_name, top, second = (self.resolve(item) for item in self._arguments(key, argument, 3))
            try:
                return (self.template.get("Mappings") or {})[map_name][top][second]
            except (KeyError, TypeError) as error:
                raise UnresolvableError(f"Fn::FindInMap: no {map_name}.{top}.{second} in Mappings") from error
        if key == "Fn::If":
            name, when_true, when_false = self._arguments(key, argument, 3)
            return self.resolve(when_true if self.condition(str(name)) else when_false)
        if key == "Fn::Base64":
            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument), separators=(",", ":"))
        if key == "Fn::Length":
            values = self.resolve(argument)
            if not isinstance(values, list):
                raise UnresolvableError(f"Fn::Length needs a list, got {values!r}")
            return len(values)
        if key in {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"}:
            return self._truth({key: argument})
        raise UnresolvableError(f"{key} is not supported by the local cloud")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, local_nodes = self._arguments("Fn::Sub", argument, 2)
            local = {str(name): self.resolve(node) for name, node in dict(local_nodes).items()}
        else:
            text, local = argument, {}
        if not isinstance(text, str):
            raise UnresolvableError(f"Fn::Sub needs a string, got {text!r}")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                value = local[name]
            elif "." in name:
                resource, _, attribute = name.partition(".")
                value = self.get_att(resource, attribute)
            else:
                value = self.ref(name)
            if isinstance(value, list | dict) or value is NO_VALUE:
                raise UnresolvableError(f"Fn::Sub ${{{name}}} is not a string: {value!r}")
            return str(value)

        return _SUB_VARIABLE.sub(substitute, text)
