"""Read template.yaml as plain data and check it: cfn-lint plus a dangling-reference check.

`load_template` uses cfn-lint's own decoder, so CloudFormation's short-form tags become the long form as plain
Python data (`!Ref X` -> `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` ->
`{"Fn::Sub": "s"}`). The local cloud walks that data to create resources and to find routes and event sources.

`dangling_references` exists because cfn-lint does not see every reference in a SAM template: it validates SAM
resources against SAM schemas without running the SAM transform, and (as of cfn-lint 1.58) a `!Ref`/`!GetAtt` to a
missing resource inside `Globals`, a function's `Policies` (SAM policy templates) or its `Events` passes silently.

    python -m infra.template check template.yaml    # cfn-lint + dangling references; exit 1 on any problem
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

PSEUDO_PREFIX = "AWS::"
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

# SAM's documented generated resources and referenceable properties (see "Generated AWS CloudFormation resources
# for AWS SAM" in the SAM developer guide). Only those a template can produce are accepted; see `sam_implicit_names`.
SAM_IMPLICIT_REST_API = "ServerlessRestApi"
SAM_IMPLICIT_HTTP_API = "ServerlessHttpApi"


class TemplateError(Exception):
    """The template file cannot be read or parsed."""


def _decode(path: str | Path) -> dict[str, Any]:
    """The template as cfn-lint's node objects (dict/list/str subclasses that remember their line)."""
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches:
        raise TemplateError(
            "\n".join(f"{path}:{match.linenumber}: {match.message}" for match in matches),
        )
    if not isinstance(template, dict):
        raise TemplateError(f"{path}: a template must be a mapping at the top level")
    return template


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def load_template(path: str | Path) -> dict[str, Any]:
    """Read a CloudFormation/SAM template (YAML or JSON) into plain dicts, lists and scalars.

    Raises `TemplateError` with cfn-lint's parse messages when the file cannot be read.
    """
    plain: dict[str, Any] = _plain(_decode(path))
    return plain


def sam_implicit_names(template: dict[str, Any]) -> set[str]:
    """Names SAM creates or makes referenceable for this template's serverless resources.

    `<Function>Role` (unless the function names its own Role), `<Function>.Alias`/`.Version` (with
    AutoPublishAlias), `<Api>.Stage`/`.Deployment`, `<HttpApi>.Stage`, and `ServerlessRestApi`/`ServerlessHttpApi`
    when an Api/HttpApi event names no API of its own.
    """
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return set()
    globals_section = template.get("Globals")
    function_globals = globals_section.get("Function", {}) if isinstance(globals_section, dict) else {}
    if not isinstance(function_globals, dict):
        function_globals = {}

    names: set[str] = set()
    for name, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        kind = resource.get("Type")
        properties = resource.get("Properties")
        if not isinstance(properties, dict):
            properties = {}
        if kind == "AWS::Serverless::Function":
            if "Role" not in properties and "Role" not in function_globals:
                names.add(f"{name}Role")
            if "AutoPublishAlias" in properties or "AutoPublishAlias" in function_globals:
                names.update({f"{name}.Alias", f"{name}.Version"})
            events = properties.get("Events")
            for event in events.values() if isinstance(events, dict) else ():
                if not isinstance(event, dict):
                    continue
                event_properties = event.get("Properties")
                if not isinstance(event_properties, dict):
                    event_properties = {}
                if event.get("Type") == "Api" and "RestApiId" not in event_properties:
                    names.add(SAM_IMPLICIT_REST_API)
                if event.get("Type") == "HttpApi" and "ApiId" not in event_properties:
                    names.add(SAM_IMPLICIT_HTTP_API)
        elif kind == "AWS::Serverless::Api":
            names.update({f"{name}.Stage", f"{name}.Deployment"})
        elif kind == "AWS::Serverless::HttpApi":
            names.add(f"{name}.Stage")
    return names


def _format_path(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "<template>"


def _where(path: tuple[str | int, ...], node: Any) -> str:
    mark = getattr(node, "start_mark", None)
    line = getattr(mark, "line", None)
    return _format_path(path) + (f" (line {line + 1})" if isinstance(line, int) else "")


def _walk(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every mapping in the template with its path (depth first, in document order)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


def _sub_names(text: str) -> Iterator[str]:
    for match in _SUB_VARIABLE.finditer(text):
        name = match.group(1).strip()
        if name and not name.startswith("!"):
            yield name


def dangling_references(template: dict[str, Any]) -> list[str]:
    """Every `Ref`, `Fn::GetAtt`, `Fn::Sub` variable and `DependsOn` that names nothing in the template.

    A `Ref` may name a Parameter, a Resource, a SAM implicit name (see `sam_implicit_names`) or an `AWS::` pseudo
    parameter; `Fn::GetAtt` (list or "A.B" form) and `${A.B}` need a resource; `${Name}` in `Fn::Sub` follows `Ref`,
    except for `${!Literal}` escapes and the names in the two-argument form's variable map.
    Returns one human-readable line per problem, in document order; empty when all is well.
    """
    check = _ReferenceCheck(template)
    for path, node in _walk(template):
        where = _where(path, node)
        if len(node) == 1 and "Ref" in node:
            check.ref(node["Ref"], where, f"!Ref {node['Ref']}")
        elif len(node) == 1 and "Fn::GetAtt" in node:
            check.getatt_node(node["Fn::GetAtt"], where)
        elif len(node) == 1 and "Fn::Sub" in node:
            check.sub(node["Fn::Sub"], where)
        if len(path) == 2 and path[0] == "Resources" and "DependsOn" in node:
            check.depends_on(node["DependsOn"], where)
    return check.problems


class _ReferenceCheck:
    """The names a template defines, and the problems found so far with the names it uses."""

    def __init__(self, template: dict[str, Any]):
        parameters = template.get("Parameters")
        resources = template.get("Resources")
        parameter_names = {str(name) for name in parameters} if isinstance(parameters, dict) else set()
        resource_names = {str(name) for name in resources} if isinstance(resources, dict) else set()
        implicit = sam_implicit_names(template)
        self.refable = parameter_names | resource_names | implicit
        self.attributable = resource_names | {name for name in implicit if "." not in name}
        self.problems: list[str] = []

    def ref(self, name: Any, where: str, shown: str, local: frozenset[str] = frozenset()) -> None:
        if not isinstance(name, str):
            self.problems.append(f"{where}: {shown} needs a name, got {name!r}")
        elif not (name.startswith(PSEUDO_PREFIX) or name in self.refable or name in local):
            self.problems.append(f"{where}: {shown}: no parameter or resource named {name!r}")

    def getatt(self, name: Any, where: str, shown: str) -> None:
        if not isinstance(name, str):
            self.problems.append(f"{where}: {shown} needs a resource name, got {name!r}")
        elif name not in self.attributable:
            self.problems.append(f"{where}: {shown}: no resource named {name!r}")

    def getatt_node(self, value: Any, where: str) -> None:
        if isinstance(value, str):
            self.getatt(value.split(".", 1)[0], where, f"!GetAtt {value}")
        elif isinstance(value, list) and value:
            self.getatt(value[0], where, f"!GetAtt {'.'.join(str(part) for part in value)}")
        else:
            self.problems.append(f"{where}: malformed Fn::GetAtt {value!r}")

    def sub(self, value: Any, where: str) -> None:
        local: frozenset[str] = frozenset()
        if isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):
            local = frozenset(str(name) for name in value[1])
            value = value[0]
        if not isinstance(value, str):
            return  # a non-string first argument is cfn-lint's to report; nested intrinsics are walked anyway
        for name in _sub_names(value):
            shown = f"!Sub ${{{name}}}"
            if name in local or name.startswith(PSEUDO_PREFIX) or name in self.refable:
                continue
            if "." in name:
                self.getatt(name.split(".", 1)[0], where, shown)
            else:
                self.ref(name, where, shown, local)

    def depends_on(self, depends_on: Any, where: str) -> None:
        for name in depends_on if isinstance(depends_on, list) else [depends_on]:
            if name not in self.attributable:
                self.problems.append(f"{where}: DependsOn {name}: no resource named {name!r}")


def _shorten(message: str, limit: int = 240) -> str:
    # cfn-lint's reference errors list every name in the template; the start says what is wrong.
    return message if len(message) <= limit else message[: limit - 1] + "…"


def lint(path: str | Path) -> list[str]:
    """cfn-lint's findings (its default rules and any .cfnlintrc), one line each, as its CLI words them."""
    from cfnlint.api import lint_file

    return [
        f"{match.filename or path}:{match.linenumber}:{match.columnnumber}: [{match.rule.id}] {_shorten(match.message)}"
        for match in lint_file(Path(path))
    ]


def check(path: str | Path) -> list[str]:
    """Every problem with the template: parse errors, cfn-lint findings, then dangling references."""
    try:
        template = _decode(path)
    except TemplateError as error:
        return str(error).splitlines()
    problems = lint(path)
    problems += [f"{path}: dangling reference at {problem}" for problem in dangling_references(template)]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.template", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check_command = commands.add_parser("check", help="run cfn-lint and the dangling-reference check")
    check_command.add_argument("templates", nargs="*", type=Path, default=[Path("template.yaml")])
    arguments = parser.parse_args(argv)

    failed = False
    for path in arguments.templates:
        problems = check(path)
        for problem in problems:
            print(problem)
        if problems:
            failed = True
            print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        else:
            print(f"{path}: ok (cfn-lint, references)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
