#!/usr/bin/env bash
# Install the wheel of DIST (default dist/) into a fresh venv whose PATH has no Rust
# toolchain, its dependencies from PyPI as binary wheels only, and smoke-test every command
# (tools/wheel_smoke.py) in a temporary folder, removed afterwards. PYTHON picks the
# interpreter of the venv (default python3).
set -euo pipefail
tools="$(cd "$(dirname "$0")" && pwd)"
dist="$(cd "${1:-$tools/../dist}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"${PYTHON:-python3}" -m venv "$work/venv"
export PATH="$work/venv/bin:/usr/bin:/bin"
for tool in cargo rustc rustup; do
    if command -v "$tool" >/dev/null; then
        echo "FAIL: $tool is on PATH ($(command -v "$tool")): the check needs a machine without Rust" >&2
        exit 1
    fi
done
pip() { python -m pip --quiet --disable-pip-version-check "$@"; }
pip install --no-index --find-links "$dist" --only-binary=:all: --no-deps mosaicfast
python - >"$work/requirements.txt" <<'EOF'
from importlib.metadata import requires

print("\n".join(r for r in requires("mosaicfast") or [] if "extra ==" not in r))
EOF
pip install --only-binary=:all: -r "$work/requirements.txt"
pip check
echo "ok: installed $(cd "$dist" && ls mosaicfast-*.whl) and its dependencies, no Rust on PATH"
cd "$work"
python "$tools/wheel_smoke.py"
