#!/usr/bin/env bash
# Builds tools/compose-check (Docker Compose's own file loader, compose-go, pinned in its go.mod)
# once and caches it under $HOME, for the compose checks in tests/deploy. Rebuilt when go.mod,
# go.sum or main.go change. Prints the binary's path on stdout; progress goes to stderr.
#   COMPOSE_CHECK_BIN=/path/to/compose-check  use that binary instead
#   TRACECHAT_CACHE=dir                       cache folder (default $HOME/.cache/tracechat)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tools/compose-check"
if [ -n "${COMPOSE_CHECK_BIN:-}" ] && [ -x "$COMPOSE_CHECK_BIN" ]; then echo "$COMPOSE_CHECK_BIN"; exit 0; fi

cache=${TRACECHAT_CACHE:-$HOME/.cache/tracechat}
key=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
dir="$cache/compose-check/$key"
bin="$dir/compose-check"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "build-compose-check: Go is required to build compose-check (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$dir"
echo "build-compose-check: building compose-check into $dir (a minute, once)" >&2
tmp="$dir/.build.$$"
trap 'rm -rf "$tmp"' EXIT
(cd "$src" && GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -o "$tmp/compose-check" .) >&2
mv "$tmp/compose-check" "$bin"
echo "$bin"
