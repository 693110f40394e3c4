# SPDX-License-Identifier: Apache-2.0
"""Compares `cocoinit initdata show --toml` with Python's tomllib, the oracle.

A document is "inside the subset" when tomllib accepts it and its meaning
holds no float, date or time, no integer outside 64 bits (TOML requires an
error; tomllib keeps big integers), nothing nested deeper than cocoinit's
TOML_NEST_MAX, and its text has no [[array of tables]] header. Inside the
subset cocoinit must accept it and mean the same tables and strings;
outside, refuse it saying "not supported"; when tomllib refuses, refuse.
"""
import datetime
import json
import os
import re
import subprocess
import tempfile
import tomllib

NEST_MAX = 128
INT64 = (-(1 << 63), (1 << 63) - 1)
AOT_RE = re.compile(rb"(?m)^[ \t]*\[[ \t]*\[")


def _pairs_hook(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key in cocoinit's JSON")
    return ("obj", list(pairs))


def cocoinit_meaning(stdout):
    """cocoinit's JSON as nested ("obj", [(key, value)]) in document order."""
    obj = json.loads(stdout, object_pairs_hook=_pairs_hook)
    if not isinstance(obj, tuple):
        raise ValueError("cocoinit's JSON is not one object")
    return obj


def tomllib_meaning(d):
    """tomllib's dicts and strings only, in the same shape (iteratively)."""
    out = ("obj", [])
    stack = [(d, out[1])]
    while stack:
        src, dst = stack.pop()
        for k, v in src.items():
            if isinstance(v, str):
                dst.append((k, v))
            elif isinstance(v, dict):
                sub = ("obj", [])
                dst.append((k, sub))
                stack.append((v, sub[1]))
    return out


def outside_reason(data, value):
    """Why a document tomllib accepted is outside the subset, or None. An
    array of tables is a list of only tables in the meaning with a line
    starting "[[" in the text (an array of inline tables alone is not)."""
    aot = AOT_RE.search(data) is not None
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth >= NEST_MAX:
            return "nested deeper than %d" % NEST_MAX
        if isinstance(v, bool) or isinstance(v, str):
            continue
        if isinstance(v, float):
            return "float"
        if isinstance(v, (datetime.date, datetime.time)):
            return "date or time"
        if isinstance(v, int):
            if not INT64[0] <= v <= INT64[1]:
                return "integer beyond 64 bits"
        elif isinstance(v, dict):
            for k, sub in v.items():
                stack.append((sub, depth + 1))
        elif isinstance(v, list):
            if aot and v and all(isinstance(sub, dict) for sub in v):
                return "[[array of tables]]"
            for sub in v:
                stack.append((sub, depth + 1))
    return None


def run_cocoinit(cocoinit, path):
    p = subprocess.run([cocoinit, "initdata", "show", "--toml", path], capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def oracle(data):
    """("refuse", why) or ("outside", why) or ("accept", meaning)."""
    try:
        value = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        return "refuse", str(e)
    except RecursionError:
        # tomllib itself gives up: deeper than cocoinit's bound anyway.
        return "outside", "nested deeper than tomllib's recursion limit"
    why = outside_reason(data, value)
    if why:
        return "outside", why
    return "accept", tomllib_meaning(value)


ERR_RE = re.compile(rb"^cocoinit: initdata: toml: line [0-9]+: [^\n]+\n\Z")


def compare(cocoinit, path, data, expect=None):
    """None when cocoinit agrees with the oracle, else the disagreement.
    expect overrides the oracle's verdict ("refuse" for toml-test invalid/)."""
    verdict, what = oracle(data)
    if expect == "refuse":
        verdict = "refuse"
    rc, out, err = run_cocoinit(cocoinit, path)
    if rc not in (0, 1) or (rc == 1 and not ERR_RE.match(err)):
        return verdict, "exit %d, stderr %r" % (rc, err[:300])
    if verdict == "refuse":
        return verdict, None if rc == 1 else "accepted what tomllib refuses (%s)" % what
    if verdict == "outside":
        # TOML requires an error for a big integer: any refusal will do.
        if rc != 1 or (b"not supported" not in err and what != "integer beyond 64 bits"):
            return verdict, "outside the subset (%s) but exit %d, %r" % (what, rc, err[:200])
        return verdict, None
    if rc != 0:
        return verdict, "refused what tomllib accepts: %r" % err[:200]
    try:
        mine = cocoinit_meaning(out)
    except (ValueError, UnicodeDecodeError) as e:
        return verdict, "bad JSON from cocoinit: %s" % e
    if mine != what:
        return verdict, "meaning differs:\n  cocoinit %r\n  tomllib  %r" % (mine, what)
    return verdict, None


class Scratch:
    """One temporary file rewritten for each document."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(suffix=".toml")
        os.close(fd)

    def check(self, cocoinit, data, expect=None):
        with open(self.path, "wb") as f:
            f.write(data)
        return compare(cocoinit, self.path, data, expect)

    def close(self):
        os.unlink(self.path)
