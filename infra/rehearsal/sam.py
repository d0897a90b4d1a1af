"""The AWS SAM CLI as the rehearsal runs it: from its own venv, with dummy credentials, every AWS endpoint on the
loopback moto server, and a python3.13 on PATH for `sam build`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.local_cloud.server import DUMMY_CREDENTIALS, REGION, require_loopback_endpoint

SAM_VENV = Path(__file__).resolve().parents[2] / ".venv-sam"  # make rehearse installs requirements/sam.txt there


class SamError(Exception):
    """A SAM CLI command failed; the message carries its output."""


@dataclass(frozen=True)
class SamCli:
    venv: Path
    python313: str  # `sam build` looks python3.13 up on PATH for the functions' runtime
    state_dir: Path  # SAM's own files (metadata.json), kept under build/ rather than in ~/.aws-sam

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "sam"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def environment(self, endpoint_url: str) -> dict[str, str]:
        """No AWS_* variable of the caller's survives (no real credentials, profile or endpoint): every service
        SAM might call, S3 or any other, resolves to the loopback endpoint with the dummy credentials."""
        require_loopback_endpoint(endpoint_url)
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        return {
            **inherited,
            "PATH": os.pathsep.join([str(Path(self.python313).parent), inherited.get("PATH", "/usr/bin:/bin")]),
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": DUMMY_CREDENTIALS["aws_session_token"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ENDPOINT_URL_S3": endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SAM_CLI_TELEMETRY": "0",
            "__SAM_CLI_APP_DIR": str(self.state_dir),
        }

    def run(self, arguments: Sequence[str], environment: Mapping[str, str], cwd: Path) -> str:
        """`sam ARGUMENTS`; its output (stdout and stderr), or `SamError` with it."""
        return self._run([str(self.executable), *arguments], environment, cwd)

    def run_python(self, arguments: Sequence[str], environment: Mapping[str, str], cwd: Path) -> str:
        """The SAM venv's python (for `translate.py`); its stdout."""
        return self._run([str(self.python), *arguments], environment, cwd, merge=False)

    def version(self, environment: Mapping[str, str], cwd: Path) -> str:
        return self.run(["--version"], environment, cwd).strip().rsplit(" ", 1)[-1]

    @staticmethod
    def _run(command: list[str], environment: Mapping[str, str], cwd: Path, merge: bool = True) -> str:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=dict(environment),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SamError(
                f"{' '.join(command)} failed (exit {result.returncode}):\n{result.stdout}{result.stderr or ''}"
            )
        return result.stdout
