#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs one libFuzzer target: new inputs land in WORKDIR, the repo's seeds
# are read only, and any crash, leak or timeout is exit status 1.
set -eu
exe=$(realpath "$1") work=$2 seeds=$(realpath "$3")
shift 3
mkdir -p "$work"
# UBSAN only reports by default: a finding must fail the run.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
cd "$work"
exec "$exe" -error_exitcode=1 -timeout_exitcode=1 "$@" "$work" "$seeds"
