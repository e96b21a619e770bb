#!/usr/bin/env bash
# Builds the emulator image `hivecheck-emulator:local` (or the tag given as $1) with no registry:
# a statically linked hivecheck binary copied into a `FROM scratch` image.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-hivecheck-emulator:local}"
host="$(rustc -vV | sed -n 's/^host: //p')"

# Naming --target keeps +crt-static away from build scripts and proc-macros.
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --locked --profile image --target "$host" --bin hivecheck

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "target/$host/image/hivecheck" "$context/hivecheck"
docker build --quiet --tag "$tag" --file docker/emulator.Dockerfile "$context"
echo "built $tag"
