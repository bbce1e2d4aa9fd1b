#!/usr/bin/env bash
# Builds the Jaeger v2 binary from its Go module once and caches it under $HOME.
# Prints the binary's path on stdout; progress goes to stderr.
#   JAEGER_BIN=/path/to/jaeger  use that binary instead
#   TRACECHAT_CACHE=dir         cache folder (default $HOME/.cache/tracechat)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${JAEGER_BIN:-}" ] && [ -x "$JAEGER_BIN" ]; then echo "$JAEGER_BIN"; exit 0; fi

cache=${TRACECHAT_CACHE:-$HOME/.cache/tracechat}
key=$(cat "$root/tools/jaeger/go.mod" "$root/tools/jaeger/go.sum" | sha256sum | cut -c1-12)
dir="$cache/jaeger/$key"
bin="$dir/jaeger"
if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "build-jaeger: Go is required to build Jaeger (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$dir"
echo "build-jaeger: building Jaeger v2 into $dir (a few minutes, once)" >&2
tmp="$dir/.build.$$"
# The v2.20.0 commit first; its module path lacks /v2, so the proxy may refuse it. Then the
# pinned tools module (Jaeger v2.13.0 as module v1.76.0, checksums from Jaeger's own go.sum).
if GOBIN="$tmp" go install github.com/jaegertracing/jaeger/cmd/jaeger@798e4b0fcf22609e381df764a01461affd813e1e >&2 2>/dev/null; then
  mv "$tmp/jaeger" "$bin"
else
  echo "build-jaeger: the v2.20.0 commit is not served by the module proxy; building v2.13.0 from tools/jaeger" >&2
  (cd "$root/tools/jaeger" && GOFLAGS=-mod=mod go build -trimpath -o "$tmp/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger) >&2
  mv "$tmp/jaeger" "$bin"
fi
rm -rf "$tmp"
echo "$bin"
