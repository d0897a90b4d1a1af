"""Build the Lambda artifacts (deps, training and core layers, functions) for python3.13 on x86_64 and arm64.

    python -m infra.packaging build [--arch x86_64|arm64|all] [--out build/package] [--require-smoke-test]
    python -m infra.packaging emulator [--arch arm64]    # the root that smoke-tests arm64 here under qemu

Per architecture, under `<out>/<arch>/`:

- `deps.zip`: layers/deps/requirements.txt installed by pip for the Lambda platform (`--platform`,
  `--python-version 3.13`, `--only-binary=:all:` let any machine build it), with the locked AWS SDK (not the
  runtime's, unless `--runtime-sdk`) and minus what Lambda never runs (caches, tests, stubs, headers, build
  tooling, unused native libraries), see `strip.STRIP_RULES` and `distributions.UNUSED_DISTRIBUTIONS`.
- `training.zip`: layers/training/requirements.txt (LightGBM, onnx, onnxmltools, protobuf, SciPy) for the training
  function, on top of the deps layer: without what that ships, skl2onnx and scikit-learn, the SciPy LightGBM never
  loads, onnx's tests; with `lib/libgomp.so.1` for LightGBM (see `training`).
- `core.zip`: the `aiqleads` library (`python/aiqleads/`; the offline package `aiqleads_offline` is not shipped),
  the shipped model (`model_artifacts/lead_scorer/<version>/`; layers are mounted at /opt, where
  `aiqleads.scoring.artifact` looks) and the committed `openapi.json` (at /opt, where `aiqleads.api.openapi`
  finds it for GET /v1/openapi.json).
- `functions/<name>.zip`: each `functions/<name>/` directory, without caches.

Every zip is deterministic (sorted entries, fixed timestamps and permissions). The build prints each artifact's
unzipped and zipped size and fails if a function with the layers template.yaml gives it (`layer_sets`) exceeds
Lambda's 250 MB unzipped limit (262,144,000 bytes: Lambda's MB are MiB, and so are the sizes printed here) for any
architecture; above the 150 MB goal it warns. The stripped deps layer must pass a shared-library check (every DT_NEEDED of every ELF file resolves
inside the layer or to a system library) and a smoke test that extracts the zips into an /opt-like directory and
scores a lead with the shipped model (and, with the training layer added, trains, converts and runs a LightGBM
model): natively on the host's architecture, under qemu on the other once
`emulator` has made its root (skipped otherwise, unless `--require-smoke-test`).

The steps, one module each: `config` (paths, the Lambda platform, size limits), `install` (pip for the Lambda
platform), `distributions` (pruning what Lambda provides or nothing imports), `training` (the training layer), `layer_sets` (each function's layers, from template.yaml), `strip` (the strip
rules), `elf`
(DT_NEEDED check, duplicate libraries), `symbols` (strip --strip-unneeded), `zips` (trees and reproducible zips),
`report` (sizes, limits, the table), `build` (one architecture's artifacts), `smoke_runner` and `smoke` (the smoke
test: `smoke.py` is the program run inside the extracted zips), `emulation` (another architecture's python3.13
under qemu), `__main__` (the command line).
"""
