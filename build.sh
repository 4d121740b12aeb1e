#!/usr/bin/env bash
# Usage: ./build.sh [--target=Native|Generate|Build|Test|Bench|Pack|PublicApi|Run] [other Cake arguments]
set -euo pipefail
cd "$(dirname "$0")"
dotnet tool restore >/dev/null
exec dotnet cake build/build.cake "$@"
