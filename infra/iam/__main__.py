"""python -m infra.iam report [--template PATH] [--before REV] | check: see infra/iam/__init__.py."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from infra.iam.policies import FunctionAccess, compare, granted, load


def table(accesses: dict[str, FunctionAccess]) -> list[str]:
    """Per function: each resource (and path) with the actions granted on it, then the runtime's policies."""
    lines: list[str] = []
    for function, access in sorted(accesses.items()):
        lines.append(function)
        rows: dict[str, set[str]] = defaultdict(set)
        for grant in access.granted:
            rows[grant.resource + (f"/{grant.path}" if grant.path else "")].add(grant.action)
        width = max((len(name) for name in rows), default=0)
        for name, actions in sorted(rows.items()):
            lines.append(f"  {name.ljust(width)}  {', '.join(sorted(actions))}")
        for arn in sorted(access.runtime):
            lines.append(f"  (runtime) {arn.rsplit('/', 1)[1]}")
        lines += [f"  (unclassified) {item}" for item in access.unclassified]
    return lines


def _at_revision(revision: str, path: str) -> Path:
    text = subprocess.run(["git", "show", f"{revision}:{path}"], check=True, capture_output=True, text=True).stdout
    scratch = Path(tempfile.mkdtemp(prefix="aiqleads-iam-")) / Path(path).name
    scratch.write_text(text, encoding="utf-8")
    return scratch


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.iam", description="each function's IAM grants")
    parser.add_argument("command", choices=["report", "check"])
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--before", metavar="REV", help="report: also the table of REV's template (git)")
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = compare(load(args.template))
        for line in problems.lines():
            print(line)
        print("IAM: every grant is used and every call granted" if not problems else "", file=sys.stderr)
        return 1 if problems else 0
    if args.before:
        print(f"# before ({args.before}:{args.template})")
        print("\n".join(table(granted(load(_at_revision(args.before, args.template))))))
        print(f"\n# after ({args.template})")
    print("\n".join(table(granted(load(args.template)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
