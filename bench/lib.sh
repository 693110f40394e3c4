# SPDX-License-Identifier: Apache-2.0
# Shared by bench/discover and bench/run: finds or makes the build directory
# and builds only what the benchmarks need. Sourced, not run.

# The build to use: --build DIR, else $COCOINIT_BUILD, else the static build
# that scripts/check made next to OUT (OUT/../static), else build/bench.
bench_pick_build() { # requested-build, out-dir
	if [ -n "$1" ]; then
		echo "$1"
	elif [ -n "${COCOINIT_BUILD:-}" ]; then
		echo "$COCOINIT_BUILD"
	elif [ -n "$2" ] && [ -f "$(dirname "$2")/static/build.ninja" ]; then
		echo "$(dirname "$2")/static"
	else
		echo build/bench
	fi
}

bench_ensure_build() { # build-dir
	if [ ! -f "$1/build.ninja" ]; then
		mkdir -p "$(dirname "$1")"
		meson setup "$1" -Dstatic=true >"$1.setup.log" 2>&1 || { cat "$1.setup.log" >&2; return 1; }
	fi
	meson compile -C "$1" cocoinit bench/bench_discover bench/bench-agent bench/floor-init >"$1.bench-compile.log" 2>&1 ||
		{ tail -40 "$1.bench-compile.log" >&2; return 1; }
}
