#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The whole toml-test suite against cocoinit's TOML reader: every invalid/
# case refused, every valid/ case inside the subset accepted with tomllib's
# meaning, every valid/ case outside it refused as "not supported". Fails on
# any disagreement, and when the suite is missing.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tomlcheck  # noqa: E402


def main():
    cocoinit, suite = sys.argv[1], sys.argv[2]
    counts = {"valid accepted": 0, "valid outside the subset, refused": 0,
              "valid refused by tomllib too (TOML 1.1), refused": 0, "invalid refused": 0}
    bad = []
    for kind in ("valid", "invalid"):
        top = os.path.join(suite, kind)
        if not os.path.isdir(top):
            print("toml-test suite missing: %s" % top)
            return 1
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs if f.endswith(".toml"))
        if not files:
            print("no cases under %s" % top)
            return 1
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            verdict, problem = tomlcheck.compare(cocoinit, path, data, "refuse" if kind == "invalid" else None)
            name = os.path.relpath(path, suite)
            if problem:
                bad.append("%s: %s" % (name, problem))
            elif kind == "invalid":
                counts["invalid refused"] += 1
            elif verdict == "accept":
                counts["valid accepted"] += 1
            elif verdict == "outside":
                counts["valid outside the subset, refused"] += 1
            else:
                counts["valid refused by tomllib too (TOML 1.1), refused"] += 1
    for b in bad:
        print("DISAGREE " + b)
    for k, v in counts.items():
        print("%s: %d" % (k, v))
    print("disagreements: %d" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
