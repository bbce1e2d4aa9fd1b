#!/usr/bin/env bash
# Builds kustomize (pinned) from its Go module once and caches it under $HOME, for the Kubernetes
# checks in tests/deploy. Prints the binary's path on stdout; progress goes to stderr.
#   KUSTOMIZE_BIN=/path/to/kustomize  use that binary instead
#   TRACECHAT_CACHE=dir               cache folder (default $HOME/.cache/tracechat)
set -euo pipefail
version=v5.7.1
if [ -n "${KUSTOMIZE_BIN:-}" ] && [ -x "$KUSTOMIZE_BIN" ]; then echo "$KUSTOMIZE_BIN"; exit 0; fi

cache=${TRACECHAT_CACHE:-$HOME/.cache/tracechat}
dir="$cache/kustomize/$version"
bin="$dir/kustomize"
if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "build-kustomize: Go is required to build kustomize (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$dir"
echo "build-kustomize: building kustomize $version into $dir (a minute or two, once)" >&2
tmp="$dir/.build.$$"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" GOFLAGS=-trimpath go install "sigs.k8s.io/kustomize/kustomize/v5@$version" >&2
mv "$tmp/kustomize" "$bin"
echo "$bin"
