#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A seeded corpus (initdata documents with every string form and escape,
# dotted and quoted keys, tables, inline tables; documents where tables,
# dotted keys and inline tables of few names meet; and their mutations) run
# through `cocoinit initdata show --toml` and tomllib: every accepted document
# must mean what tomllib says, what tomllib refuses must be refused, what it
# accepts inside the subset must be accepted. Fails on any disagreement.
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tomlcheck  # noqa: E402
import tomlgen  # noqa: E402


def main():
    cocoinit = sys.argv[1]
    docs = int(sys.argv[2]) if len(sys.argv) > 2 else 800
    r = random.Random(11)
    scratch = tomlcheck.Scratch()
    counts = {"accept": 0, "refuse": 0, "outside": 0}
    bad = []
    try:
        for _ in range(docs):
            base = tomlgen.initdata(r) if r.random() < 0.6 else tomlgen.structure(r)
            for data in [base] + [tomlgen.mutate(r, base) for _ in range(4)]:
                verdict, problem = scratch.check(cocoinit, data)
                counts[verdict] += 1
                if problem:
                    bad.append("%r\n  %s" % (data, problem))
    finally:
        scratch.close()
    for b in bad[:20]:
        print("DISAGREE " + b)
    print("documents: %d (tomllib accepts inside the subset: %d, refuses: %d, outside the subset: %d)"
          % (sum(counts.values()), counts["accept"], counts["refuse"], counts["outside"]))
    print("disagreements: %d" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
