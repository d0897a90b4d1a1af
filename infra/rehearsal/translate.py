"""SAM's translator on a template, offline: the CloudFormation template it becomes, as JSON on stdout.

    .venv-sam/bin/python infra/rehearsal/translate.py TEMPLATE

Run by path on the SAM CLI's venv (the project's venv has no translator, and must not get the SAM CLI's pins), so
it imports only the standard library and what the SAM CLI installs. Managed policies named by name (SAM looks
their ARNs up in IAM) get the ARN AWS gives its own managed policies, since no account is reached; AWS_REGION must
be set (the translator builds ARNs with it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class AwsManagedPolicies(dict[str, str]):
    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"


class OfflinePolicyLoader:
    def load(self) -> dict[str, str]:
        return AwsManagedPolicies()


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: translate.py TEMPLATE")
    template = yaml_parse(Path(argv[0]).read_text(encoding="utf-8"))
    print(json.dumps(transform(template, {}, OfflinePolicyLoader())))


if __name__ == "__main__":
    main(sys.argv[1:])
