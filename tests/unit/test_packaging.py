"""infra.packaging without pip or network: sizes and limits, reproducible zips, strip rules, distribution pruning,
the ELF reader and the pip command line."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra.packaging.build import build_core_layer, function_dirs
from infra.packaging.config import MB, MODEL_ROOT, OPENAPI_DOCUMENT, PackagingError
from infra.packaging.distributions import prune_distributions
from infra.packaging.elf import dedupe_shared_libraries, elf_dynamic, elf_files, unresolved_libraries
from infra.packaging.install import pip_command, platform_tags
from infra.packaging.report import ArchitectureBuild, Artifact, check_limits, size_table
from infra.packaging.strip import STRIP_RULES, StripReport, StripRules, strip_tree
from infra.packaging.symbols import STRIP_SYMBOLS_REASON, StripTool, find_strip_tool, strip_symbols
from infra.packaging.zips import tree_size, write_zip, zip_unzipped_size


def write(path: Path, content: bytes | str = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def sized(path: Path, size: int) -> Path:
    """A (sparse) file of exactly `size` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        stream.truncate(size)
    return path


def relative_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------------------ core layer


def test_the_core_layer_ships_the_document_get_openapi_json_serves(tmp_path: Path):
    layer = tmp_path / "opt"
    build_core_layer(layer, (MODEL_ROOT / "PRODUCTION").read_text().strip())
    assert (layer / "openapi.json").read_bytes() == OPENAPI_DOCUMENT.read_bytes()
    (layer / "openapi.json").write_text('{"paths": {"/from-the-layer": {}}}')
    script = "import aiqleads, json; from aiqleads.api.openapi import committed; print(aiqleads.__file__, committed())"
    environment = {**os.environ, "PYTHONPATH": str(layer / "python")}
    found = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True)
    module, document = found.stdout.split(" ", 1)
    assert module.startswith(str(layer))
    assert document.strip() == '{"paths": {"/from-the-layer": {}}}'


# ------------------------------------------------------------------------------------------------ sizes and limits


def tree_build(tmp_path: Path, arch: str, sizes_mb: dict[str, float]) -> ArchitectureBuild:
    build = ArchitectureBuild(arch)
    for name, size_mb in sizes_mb.items():
        tree = tmp_path / arch / name
        sized(tree / "python" / "big.bin", int(size_mb * MB) - 1000)
        sized(tree / "python" / "pkg" / "small.py", 1000)
        build.artifacts.append(Artifact(name, tree, tree_size(tree), 0))
    return build


def test_tree_size_counts_the_bytes_of_every_file(tmp_path: Path):
    sized(tmp_path / "a.bin", 3 * MB)
    sized(tmp_path / "deep" / "er" / "b.bin", 12_345)
    write(tmp_path / "empty" / "c.txt", b"")
    (tmp_path / "no-files").mkdir()
    assert tree_size(tmp_path) == 3 * MB + 12_345


def test_limit_check_fails_above_250_mb_and_warns_above_150_mb(tmp_path: Path):
    small = tree_build(tmp_path, "small", {"deps": 120, "core": 0.5, "api": 0.1})
    warn = tree_build(tmp_path, "warn", {"deps": 149, "core": 1, "api": 0.5})
    fail = tree_build(tmp_path, "fail", {"deps": 200, "core": 1, "api": 49.5})
    exact = tree_build(tmp_path, "exact", {"deps": 249, "core": 1})

    assert small.unzipped == int(120.6 * MB)
    assert check_limits([small]) == ([], [])
    errors, warnings = check_limits([small, warn, fail, exact])
    assert len(errors) == 1
    assert errors[0].startswith("fail: ")
    assert "250.5 MB" in errors[0]
    assert "250 MB limit" in errors[0]
    assert [w.split(":")[0] for w in warnings] == ["warn", "exact"]  # 250.0 is not above the limit
    assert "150 MB goal" in warnings[0]


def test_size_table_lists_each_artifact_and_the_total(tmp_path: Path):
    build = tree_build(tmp_path, "arm64", {"deps.zip": 100, "core.zip": 0.25})
    lines = size_table([build]).splitlines()
    assert lines[0].split() == ["arch", "artifact", "unzipped", "MB", "zipped", "MB"]
    assert lines[2].split()[:3] == ["arm64", "deps.zip", "100.0"]
    assert lines[3].split()[:3] == ["arm64", "core.zip", "0.2"]
    assert lines[-1].split()[-2:] == ["100.2", "0.0"]
    assert "TOTAL" in lines[-1]


# ------------------------------------------------------------------------------------------------ zips


def sample_tree(root: Path, order: list[str]) -> None:
    contents = {"handler.py": "def handler(e, c): ...\n", "pkg/__init__.py": "", "pkg/data.json": "{}" * 500}
    for name in order:
        write(root / name, contents[name])
    (root / "pkg" / "tool.sh").write_text("#!/bin/sh\n")
    (root / "pkg" / "tool.sh").chmod(0o700)


def test_zips_are_reproducible(tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    sample_tree(first, ["handler.py", "pkg/__init__.py", "pkg/data.json"])
    sample_tree(second, ["pkg/data.json", "handler.py", "pkg/__init__.py"])
    for path in second.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    write_zip(first, tmp_path / "a.zip")
    write_zip(second, tmp_path / "b.zip")
    write_zip(first, tmp_path / "c.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes() == (tmp_path / "c.zip").read_bytes()

    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["handler.py", "pkg/__init__.py", "pkg/data.json", "pkg/tool.sh"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in infos}
        assert modes == {"handler.py": 0o644, "pkg/__init__.py": 0o644, "pkg/data.json": 0o644, "pkg/tool.sh": 0o755}
        assert archive.read("pkg/data.json") == b"{}" * 500
    assert zip_unzipped_size(tmp_path / "a.zip") == tree_size(first)
    assert not list(tmp_path.glob("*.partial"))


def test_no_function_directories_is_an_empty_set(tmp_path: Path):
    assert function_dirs(tmp_path / "missing") == []
    write(tmp_path / "functions" / "README.md", "# functions/")
    (tmp_path / "functions" / "__pycache__").mkdir()
    assert function_dirs(tmp_path / "functions") == []
    write(tmp_path / "functions" / "api" / "handler.py")
    assert function_dirs(tmp_path / "functions") == [tmp_path / "functions" / "api"]


# ------------------------------------------------------------------------------------------------ strip rules


def test_strip_rules_remove_caches_tests_stubs_and_headers_and_keep_listed_paths(tmp_path: Path):
    site = tmp_path / "python"
    keep = [
        "numpy/__init__.py",
        "numpy/f2py/__init__.py",  # `from numpy import *` imports it (scipy does, under lightgbm)
        "numpy/testing/__init__.py",  # a runtime module: kept with everything under it
        "numpy/testing/tests/test_utils.py",
        "numpy/_core/_multiarray_umath.cpython-313-x86_64-linux-gnu.so",
        "numpy-2.0.dist-info/METADATA",
        "numpy-2.0.dist-info/entry_points.txt",
        "numpy-2.0.dist-info/licenses/LICENSE.txt",
        "pyarrow/lib.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/libarrow.so.2600",
        "pyarrow/testing_utils.py",  # not a test directory
        "pyarrow/_parquet.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_dataset.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_dataset_parquet.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_fs.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_json.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/parquet/core.py",
        "pyarrow/libarrow_substrait.so.2600",  # every pyarrow extension module lists it in DT_NEEDED
        "numpy/_core/_multiarray_umath.cpython-313-aarch64-linux-gnu.so",
        "numpy/_core/_struct_ufunc_tests.py",  # only the compiled test helpers go
        "jmespath-1.0.dist-info/LICENSE",
    ]
    remove = [
        "numpy/__pycache__/__init__.cpython-313.pyc",
        "numpy/testing/__pycache__/utils.cpython-313.pyc",  # caches go even from kept paths
        "numpy/stale.pyc",
        "numpy/_core/tests/test_multiarray.py",
        "numpy/_core/tests/data/x.npy",
        "numpy/conftest.py",
        "numpy/__init__.pyi",
        "numpy/_core/include/numpy/ndarrayobject.h",
        "numpy/random/lib/libnpyrandom.a",
        "numpy-2.0.dist-info/RECORD",
        "numpy-2.0.dist-info/WHEEL",
        "numpy-2.0.dist-info/INSTALLER",
        "numpy-2.0.dist-info/sboms/auditwheel.cdx.json",
        "pyarrow/lib.pyx",
        "pyarrow/lib.pxd",
        "pyarrow/include/arrow/api.h",
        "pyarrow/src/arrow/python/common.cc",
        "pyarrow/libarrow_flight.so.2600",
        "pyarrow/_flight.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/tests/test_array.py",
        "onnxruntime/transformers/models/gpt2/convert.py",
        "onnxruntime/capi/libonnxruntime.so.1.32.0",
        "wrapt-stubs/__init__.pyi",
        "bin/f2py",
        "pyarrow/_azurefs.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_gcsfs.cpython-313-aarch64-linux-gnu.so",
        "pyarrow/_hdfs.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_orc.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_dataset_orc.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/orc.py",
        "pyarrow/_substrait.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/substrait.py",
        "pyarrow/_feather.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_parquet_encryption.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/_dataset_parquet_encryption.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/libarrow_python_parquet_encryption.so.2600",
        "pyarrow/parquet/encryption.py",
        "numpy/_core/_simd.cpython-313-x86_64-linux-gnu.so",
        "numpy/_core/_multiarray_tests.cpython-313-aarch64-linux-gnu.so",
        "numpy/_core/_umath_tests.cpython-313-x86_64-linux-gnu.so",
    ]
    for name in keep + remove:
        write(site / name, b"0123456789")

    report = strip_tree(site)

    assert relative_files(site) == set(keep)
    assert report.bytes == 10 * len(remove)
    assert sum(files for files, _ in report.removed.values()) == len(remove)
    assert report.removed["caches (__pycache__, *.pyc)"] == (3, 30)
    assert report.removed["test suites (tests/, test/, conftest.py)"] == (4, 40)
    assert not (site / "pyarrow" / "tests").exists()
    assert not (site / "wrapt-stubs").exists()


def test_strip_rules_are_configurable(tmp_path: Path):
    rules = StripRules(remove={"pkg/big": "too big"}, keep={"pkg/test": "imported at run time"})
    for name in ["pkg/big/a.py", "pkg/test/__init__.py", "pkg/tests/t.py", "pkg/ok.py"]:
        write(tmp_path / name)
    report = strip_tree(tmp_path, rules)
    assert relative_files(tmp_path) == {"pkg/test/__init__.py", "pkg/ok.py"}
    assert report.removed["too big"] == (1, 1)


def test_the_shipped_rules_keep_numpy_testing():
    assert "numpy/testing" in STRIP_RULES.keep
    assert "test" in STRIP_RULES.test_dir_names
    assert "testing" not in STRIP_RULES.test_dir_names


def test_no_library_the_rules_remove_is_linked_by_one_they_keep():
    """On this machine's own pyarrow and numpy (the same wheels' layout): nothing kept lists in DT_NEEDED a file the
    rules remove. The build checks the real layer the same way; this catches a bad rule before any pip run."""
    import numpy
    import pyarrow

    site = Path(pyarrow.__file__).parent.parent
    if Path(numpy.__file__).parent.parent != site:
        pytest.skip("numpy and pyarrow are not installed side by side")
    elves = {**elf_files(site / "pyarrow"), **elf_files(site / "numpy")}
    if not elves:
        pytest.skip("no ELF files (not a manylinux install)")

    def removed(path: Path) -> bool:
        relative = path.relative_to(site).as_posix()
        return any(fnmatch.fnmatchcase(relative, pattern) for pattern in STRIP_RULES.remove)

    removed_names = {path.name for path in elves if removed(path)}
    assert any(name.startswith("_substrait.") for name in removed_names)  # the rules do match real file names
    links = {(path.name, name) for path, info in elves.items() if not removed(path) for name in info.needed}
    assert {(user, name) for user, name in links if name in removed_names} == set()


# ------------------------------------------------------------------------------------------------ strip symbols


def fake_which(*present: str):
    return lambda name: f"/usr/bin/{name}" if name in present else None


def test_strip_tool_prefers_llvm_strip_for_every_architecture():
    for arch in ("x86_64", "arm64"):
        tool = find_strip_tool(arch, "x86_64", fake_which("llvm-strip", "strip", "aarch64-linux-gnu-strip"))
        assert tool == StripTool("llvm-strip", "/usr/bin/llvm-strip")
    assert find_strip_tool("arm64", "x86_64", fake_which("llvm-strip-18")) == StripTool(
        "llvm-strip-18", "/usr/bin/llvm-strip-18"
    )


def test_gnu_strip_is_used_only_for_the_architecture_it_targets():
    host_binutils = fake_which("strip")
    assert find_strip_tool("x86_64", "x86_64", host_binutils) == StripTool("strip", "/usr/bin/strip")
    assert find_strip_tool("arm64", "x86_64", host_binutils) is None  # x86_64 binutils cannot rewrite aarch64 ELF
    assert find_strip_tool("arm64", "arm64", host_binutils) == StripTool("strip", "/usr/bin/strip")
    cross = fake_which("strip", "aarch64-linux-gnu-strip")
    assert find_strip_tool("arm64", "x86_64", cross) == StripTool(
        "aarch64-linux-gnu-strip", "/usr/bin/aarch64-linux-gnu-strip"
    )
    assert find_strip_tool("arm64", None, fake_which()) is None


def script_tool(tmp_path: Path, body: str) -> StripTool:
    """A stand-in for strip: called as `<tool> --strip-unneeded <file>`."""
    path = tmp_path / "fake-strip"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return StripTool("fake-strip", str(path))


def test_strip_symbols_strips_files_with_a_symbol_table_but_not_grafted_libraries(tmp_path: Path):
    site = tmp_path / "python"
    make_elf(site / "pyarrow" / "libarrow.so.2600", ["libc.so.6"], soname="libarrow.so.2600", symtab=True)
    make_elf(site / "pyarrow" / "lib.cpython-313-x86_64-linux-gnu.so", ["libarrow.so.2600"], symtab=False)
    make_elf(site / "numpy.libs" / "libscipy_openblas64_-abc.so", ["libm.so.6"], symtab=True)
    stripped = tmp_path / "stripped.so"
    make_elf(stripped, ["libc.so.6"], soname="libarrow.so.2600")
    calls = tmp_path / "calls.txt"
    tool = script_tool(tmp_path, f'echo "$*" >> {calls}; cp {stripped} "$2"')
    before = (site / "pyarrow" / "libarrow.so.2600").stat().st_size

    report = StripReport()
    strip_symbols(site, report, tool)

    assert calls.read_text().splitlines() == [f"--strip-unneeded {site / 'pyarrow' / 'libarrow.so.2600'}"]
    assert (site / "pyarrow" / "libarrow.so.2600").read_bytes() == stripped.read_bytes()
    assert report.removed[STRIP_SYMBOLS_REASON] == (1, before - stripped.stat().st_size)


def test_strip_symbols_refuses_a_tool_that_fails_or_breaks_the_dynamic_section(tmp_path: Path):
    site = tmp_path / "python"
    make_elf(site / "pkg" / "libx.so.1", ["libc.so.6", "liby.so.2"], soname="libx.so.1", symtab=True)
    with pytest.raises(PackagingError, match=re.escape("fake-strip failed on pkg/libx.so.1: unsupported")):
        strip_symbols(site, StripReport(), script_tool(tmp_path, "echo unsupported >&2; exit 1"))
    lost_needed = tmp_path / "lost.so"
    make_elf(lost_needed, ["libc.so.6"], soname="libx.so.1")
    with pytest.raises(PackagingError, match=re.escape("changed the dynamic section of pkg/libx.so.1")):
        strip_symbols(site, StripReport(), script_tool(tmp_path, f'cp {lost_needed} "$2"'))


def test_a_real_strip_keeps_what_the_dynamic_linker_reads(tmp_path: Path):
    tool_path = shutil.which("llvm-strip") or shutil.which("strip")
    if tool_path is None or sys.platform != "linux":
        pytest.skip("no strip tool here")
    import numpy

    modules = sorted(Path(numpy.__file__).parent.glob("_core/_multiarray_umath*.so"))
    original = elf_dynamic(modules[0]) if modules else None
    if original is None:
        pytest.skip("numpy has no ELF extension module here")
    site = tmp_path / "python"
    copy = site / "numpy" / "_core" / modules[0].name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(modules[0], copy)  # an already stripped wheel: nothing to do, and nothing may change
    report = StripReport()
    strip_symbols(site, report, StripTool(Path(tool_path).name, tool_path))
    after = elf_dynamic(copy)
    assert after is not None
    assert (after.machine, after.needed, after.soname, after.has_symtab) == (
        original.machine,
        original.needed,
        original.soname,
        False,
    )
    if original.has_symtab:
        assert report.removed[STRIP_SYMBOLS_REASON][1] > 0


# ------------------------------------------------------------------------------------------------ distributions


def dist(site: Path, name: str, requires: list[str], files: dict[str, str]) -> None:
    dist_info = f"{name.replace('-', '_')}-1.0.dist-info"
    headers = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    headers += [f"Requires-Dist: {r}" for r in requires]
    write(site / dist_info / "METADATA", "\n".join(headers) + "\n\nRequires-Dist: not-a-header\n")
    for path, content in files.items():
        write(site / path, content)
    record = [f"{path},," for path in [*files, f"{dist_info}/METADATA", f"{dist_info}/RECORD", "../outside.txt"]]
    write(site / dist_info / "RECORD", "\n".join(record) + "\n")


def test_runtime_provided_distributions_go_with_what_only_they_need(tmp_path: Path):
    site = tmp_path / "python"
    write(tmp_path / "outside.txt", "a RECORD entry outside the site is never deleted")
    dist(
        site,
        "aws-lambda-powertools",
        [
            "jmespath<2",
            "aws-xray-sdk>=2.8; extra == 'tracer'",
            "boto3; extra == 'aws-sdk'",
            "typing-extensions; python_version < '3.12'",
        ],
        {"aws_lambda_powertools/__init__.py": "", "aws_lambda_powertools/logging/logger.py": "x" * 100},
    )
    dist(site, "aws-xray-sdk", ["wrapt", "botocore>=1.11"], {"aws_xray_sdk/__init__.py": ""})
    dist(site, "wrapt", [], {"wrapt/__init__.py": ""})
    dist(site, "jmespath", [], {"jmespath/__init__.py": ""})
    dist(site, "typing-extensions", [], {"typing_extensions.py": "y" * 50})
    dist(site, "boto3", ["botocore", "jmespath", "s3transfer"], {"boto3/__init__.py": ""})
    dist(site, "botocore", ["jmespath", "python-dateutil", "urllib3"], {"botocore/data/s3.json": "z" * 1000})
    dist(site, "s3transfer", ["botocore"], {"s3transfer/__init__.py": ""})
    dist(site, "python-dateutil", ["six>=1.5"], {"dateutil/__init__.py": ""})
    dist(site, "six", [], {"six.py": ""})
    dist(site, "urllib3", [], {"urllib3/__init__.py": ""})
    roots = [Requirement("aws-lambda-powertools[tracer]>=3"), Requirement("boto3>=1.34")]
    excluded = {"boto3": "runtime", "botocore": "runtime", "s3transfer": "runtime"}

    removed = {r.name: r for r in prune_distributions(site, roots, excluded, "arm64")}

    assert {name: r.reason for name, r in removed.items()} == {
        "boto3": "runtime",
        "botocore": "runtime",
        "s3transfer": "runtime",
        "python-dateutil": "only needed by botocore",
        "six": "only needed by python-dateutil",
        "urllib3": "only needed by botocore",
        "typing-extensions": "only needed by nothing",  # its marker is false on python3.13
    }
    assert removed["botocore"].files == 3  # its data file, METADATA and RECORD
    assert removed["botocore"].bytes > 1000
    assert removed["typing-extensions"].files == 3
    top = {p.name for p in site.iterdir()}
    assert top == {
        "aws_lambda_powertools",
        "aws_lambda_powertools-1.0.dist-info",
        "aws_xray_sdk",
        "aws_xray_sdk-1.0.dist-info",
        "wrapt",
        "wrapt-1.0.dist-info",
        "jmespath",
        "jmespath-1.0.dist-info",
    }
    assert (tmp_path / "outside.txt").exists()


# ------------------------------------------------------------------------------------------------ ELF


def make_elf(path: Path, needed: list[str], soname: str | None = None, machine: int = 183, symtab: bool = False):
    """A minimal 64-bit little-endian ELF shared object with a .dynstr and a .dynamic section."""
    strings = b"\0"
    offsets = {}
    for name in [*needed, *([soname] if soname else [])]:
        offsets[name] = len(strings)
        strings += name.encode() + b"\0"
    entries = [(1, offsets[name]) for name in needed] + ([(14, offsets[soname])] if soname else []) + [(0, 0)]
    dynamic = b"".join(struct.pack("<qQ", tag, value) for tag, value in entries)
    strings_at = 64
    dynamic_at = strings_at + len(strings)
    sections_at = dynamic_at + len(dynamic)
    sections = [(0, 0, 0, 0), (3, strings_at, len(strings), 0), (6, dynamic_at, len(dynamic), 1)]
    if symtab:
        sections.append((2, 0, 0, 1))
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 0, sections_at, 0, 64, 0, 0, 64, len(sections), 0)
    table = b"".join(
        struct.pack("<IIQQQQIIQQ", 0, kind, 0, 0, off, size, link, 0, 1, 0) for kind, off, size, link in sections
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + strings + dynamic + table)


def test_elf_reader_finds_needed_libraries_and_soname(tmp_path: Path):
    make_elf(tmp_path / "libx.so.1", ["libc.so.6", "liby.so.2"], soname="libx.so.1", symtab=True)
    info = elf_dynamic(tmp_path / "libx.so.1")
    assert info is not None
    assert (info.machine, info.needed, info.soname, info.has_symtab) == (
        183,
        ("libc.so.6", "liby.so.2"),
        "libx.so.1",
        True,
    )
    write(tmp_path / "script.so", "#!/bin/sh\n")
    assert elf_dynamic(tmp_path / "script.so") is None


def test_elf_reader_on_a_real_extension_module():
    import numpy

    modules = sorted(Path(numpy.__file__).parent.glob("_core/_multiarray_umath*.so"))
    if not modules:
        pytest.skip("numpy has no ELF extension module here")
    info = elf_dynamic(modules[0])
    assert info is not None
    assert info.machine in (62, 183)
    assert any(name.startswith("libscipy_openblas") or name == "libc.so.6" for name in info.needed)


def test_duplicate_library_copies_go_and_missing_links_are_reported(tmp_path: Path):
    site = tmp_path / "python"
    make_elf(site / "pyarrow" / "libarrow_python.so.2600", ["libarrow.so.2600"], soname="libarrow_python.so.2600")
    for copy in ["libarrow_python.so", "libarrow_python.so.2600.1.0"]:
        write(site / "pyarrow" / copy, (site / "pyarrow" / "libarrow_python.so.2600").read_bytes())
    make_elf(site / "pyarrow" / "lib.cpython-313-aarch64-linux-gnu.so", ["libarrow_python.so.2600", "libstdc++.so.6"])
    make_elf(site / "pyarrow" / "libarrow.so.2600", ["libm.so.6", "ld-linux-aarch64.so.1"], soname="libarrow.so.2600")
    make_elf(site / "pyarrow" / "_flight.cpython-313-aarch64-linux-gnu.so", ["libarrow_flight.so.2600"])

    report = StripReport()
    dedupe_shared_libraries(site, report)
    assert sorted(p.name for p in (site / "pyarrow").iterdir() if p.name.startswith("libarrow_python")) == [
        "libarrow_python.so.2600"
    ]
    assert sum(files for files, _ in report.removed.values()) == 2
    assert unresolved_libraries(site) == [
        "pyarrow/_flight.cpython-313-aarch64-linux-gnu.so needs libarrow_flight.so.2600, which is not in the layer"
    ]


# ------------------------------------------------------------------------------------------------ pip


@pytest.mark.parametrize(
    ("arch", "machine", "other"), [("x86_64", "x86_64", "aarch64"), ("arm64", "aarch64", "x86_64")]
)
def test_pip_command_targets_python313_on_the_lambda_platform(tmp_path: Path, arch: str, machine: str, other: str):
    requirements = tmp_path / "requirements.txt"
    command = pip_command(arch, tmp_path / "deps" / "python", requirements, "/usr/bin/python3.13")

    assert command[:4] == ["/usr/bin/python3.13", "-m", "pip", "install"]
    joined = " ".join(command)
    assert f"--target {tmp_path / 'deps' / 'python'}" in joined
    assert "--implementation cp" in joined
    assert "--python-version 3.13" in joined
    assert "--only-binary=:all:" in command
    assert "--no-compile" in command
    assert command[-2:] == ["-r", str(requirements)]
    platforms = [command[i + 1] for i, part in enumerate(command) if part == "--platform"]
    assert platforms == platform_tags(arch)
    assert f"manylinux2014_{machine}" in platforms  # the brief's tag
    assert f"manylinux_2_28_{machine}" in platforms  # onnxruntime and pyarrow publish only these
    assert platforms[0] == f"manylinux_2_34_{machine}"  # Amazon Linux 2023's glibc, nothing newer
    assert all(p.endswith(f"_{machine}") for p in platforms)
    assert other not in joined


def test_pip_command_accepts_requirement_strings(tmp_path: Path):
    command = pip_command("arm64", tmp_path, ["boto3>=1.34"], "python3.13")
    assert command[-1] == "boto3>=1.34"
    assert "-r" not in command
