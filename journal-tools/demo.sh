#!/usr/bin/env bash
# npm run demo: installs what is missing, builds, records a VM and travels back in time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash journal-tools/bootstrap.sh; fi
if [ ! -d node_modules/@oclif/core ] || [ ! -d node_modules/level ]; then npm ci; fi
npm run build --silent
node dist/journal-tools/demo/run.js "$@"
