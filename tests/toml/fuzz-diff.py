#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Mutational differential fuzz of the TOML reader against tomllib, with a
# fixed seed and a time budget (--seconds, 15 in the test suite; longer by
# hand). Inputs start from generated initdata documents and are mutated
# repeatedly; documents tomllib accepts join the pool. Prints the number of
# executions; fails on the first disagreements, printing the inputs.
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tomlcheck  # noqa: E402
import tomlgen  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cocoinit")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    r = random.Random(args.seed)
    pool = [tomlgen.initdata(r) for _ in range(50)] + [tomlgen.structure(r) for _ in range(50)]
    scratch = tomlcheck.Scratch()
    execs, bad = 0, []
    verdicts = {"accept": 0, "refuse": 0, "outside": 0}
    end = time.monotonic() + args.seconds
    try:
        while time.monotonic() < end and len(bad) < 5:
            c = r.random()
            if c < 0.05:
                data = tomlgen.initdata(r)
            elif c < 0.1:
                data = tomlgen.structure(r)
            elif c < 0.2:
                a, b = r.choice(pool), r.choice(pool)
                data = a[:r.randrange(len(a) + 1)] + b[r.randrange(len(b) + 1):]
            else:
                data = tomlgen.mutate(r, r.choice(pool))
            verdict, problem = scratch.check(args.cocoinit, data)
            execs += 1
            verdicts[verdict] += 1
            if problem:
                bad.append("%r\n  %s" % (data, problem))
            elif verdict == "accept" and len(pool) < 2000 and len(data) < 4096:
                pool.append(data)
    finally:
        scratch.close()
    for b in bad:
        print("DISAGREE " + b)
    print("executions: %d in %.0f s (accepted %d, refused %d, outside the subset %d), disagreements: %d"
          % (execs, args.seconds, verdicts["accept"], verdicts["refuse"], verdicts["outside"], len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
