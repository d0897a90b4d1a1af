"""Write the committed openapi.json: the API's routes and models (`aiqleads.api.openapi`), with the routes that
need no API key read from template.yaml as the local gateway reads them (Auth.DefaultAuthorizer, and
`Auth: {Authorizer: NONE}` per route). It lives here, not in the core layer: a Lambda function has neither the
template nor infra.

    python -m infra.openapi -o openapi.json     # make openapi
    python -m infra.openapi -o openapi.json --check
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from aiqleads.api.openapi import render
from infra.local_cloud.functions import discover_functions
from infra.local_cloud.gateway import GatewayConfig
from infra.local_cloud.intrinsics import Resolver
from infra.template import load_template


def public_routes(template_file: Path) -> frozenset[tuple[str, str]]:
    """(method, path) of every route `template_file` serves without the authorizer."""
    template = load_template(template_file)
    functions = discover_functions(template, template_file.parent)
    routes = GatewayConfig.from_template(template, functions, Resolver(template).resolve).routes.routes
    return frozenset((route.method.lower(), route.resource) for route in routes if route.authorizer is None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    parser.add_argument("--check", action="store_true", help="exit 1 if --output differs from the generated document")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"), help="whose routes need no key")
    arguments = parser.parse_args(argv)
    text = render(public_routes(arguments.template))
    if arguments.check:
        if arguments.output is None or not arguments.output.exists() or arguments.output.read_text() != text:
            print(f"{arguments.output} is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    if arguments.output:
        arguments.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
