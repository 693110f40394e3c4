# SPDX-License-Identifier: Apache-2.0
"""Seeded generator of initdata-like TOML documents and of their mutations,
for the differential test and the differential fuzzer."""
import random

BARE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
UNICODE = "é€ü日本語😀ßΩ\u200b\u00a0\ufeff\U0010fffd"
ESCAPES = ["\\b", "\\t", "\\n", "\\f", "\\r", '\\"', "\\\\", "\\u00e9", "\\u0000", "\\u001f", "\\u007f",
           "\\U0001F600", "\\u20AC", "\\UFFFFFFFF", "\\ud800", "\\x41", "\\e", "\\ "]
BAD_BYTES = [b"\x00", b"\x01", b"\x1f", b"\x7f", b"\r", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
             b"\xff", b"\xe2\x82", b"\xef\xbb\xbf", b"\t", b"\n", b"\r\n"]
PUNCT = [b'"', b"'", b"[", b"]", b"{", b"}", b".", b"=", b",", b"\\", b"#", b"\n", b" ", b'"""', b"'''", b"[[", b"0",
         b"_", b"+", b"-", b"x", b"e", b":"]


def text(r, n):
    out = []
    for _ in range(r.randrange(n + 1)):
        c = r.random()
        if c < 0.6:
            out.append(r.choice(BARE + " ./:=#[]{},"))
        elif c < 0.8:
            out.append(r.choice(UNICODE))
        else:
            out.append(r.choice("'\"\\\t"))
    return "".join(out)


def basic(r):
    parts = []
    for _ in range(r.randrange(6)):
        c = r.random()
        if c < 0.5:
            parts.append(text(r, 6).replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t" if r.random() < 0.5 else "\t"))
        else:
            parts.append(r.choice(ESCAPES[:13] if r.random() < 0.9 else ESCAPES))
    return '"' + "".join(parts) + '"'


def literal(r):
    return "'" + text(r, 10).replace("'", "") + "'"


def ml_basic(r):
    lines = []
    for _ in range(r.randrange(5)):
        s = text(r, 12).replace("\\", "\\\\").replace('"""', '""\\"')
        if r.random() < 0.3:
            s += r.choice(ESCAPES[:13])
        if r.random() < 0.2:
            s += "\\" + r.choice(["", " ", "\t "])
        lines.append(s)
    body = "\n".join(lines)
    if body.endswith("\\") and not body.endswith("\\\\"):
        body += "\n"
    lead = "\n" if r.random() < 0.5 else ""
    tail = r.choice(["", '"', '""'])
    return '"""' + lead + body + tail + '"""'


def ml_literal(r):
    body = "\n".join(text(r, 12).replace("'''", "''") for _ in range(r.randrange(5)))
    lead = "\n" if r.random() < 0.5 else ""
    tail = r.choice(["", "'", "''"])
    return "'''" + lead + body + tail + "'''"


def string(r):
    return r.choice([basic, literal, ml_basic, ml_literal])(r)


def keypart(r):
    c = r.random()
    if c < 0.7:
        return "".join(r.choice(BARE) for _ in range(r.randrange(1, 8)))
    if c < 0.9:
        return basic(r)
    return literal(r)


def key(r):
    parts = [keypart(r) for _ in range(r.choice([1, 1, 1, 2, 3]))]
    return r.choice([".", " . ", ".\t"]).join(parts)


def integer(r):
    return r.choice(["0", "+0", "-0", "42", "-17", "1_000", "0x1F", "0xdead_beef", "0o755", "0b1010",
                     "9223372036854775807", "-9223372036854775808", "+99"])


def value(r, depth=0):
    c = r.random()
    if c < 0.03:
        return r.choice(["3.14", "-0.0", "1e6", "inf", "-nan", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z",
                         "1979-05-27 07:32:00.5+01:00"])
    if c < 0.6 or depth > 2:
        return string(r)
    if c < 0.7:
        return integer(r)
    if c < 0.75:
        return r.choice(["true", "false"])
    if c < 0.85:
        items = [value(r, depth + 1) for _ in range(r.randrange(4))]
        sep = r.choice([", ", ",\n  ", " , "])
        return "[" + sep.join(items) + (r.choice(["", ","]) if items else "") + "]"
    items = []
    for i in range(r.randrange(4)):
        items.append("%s = %s" % ("k%d" % i if r.random() < 0.5 else key(r), value(r, depth + 1)))
    return "{" + ", ".join(items) + "}"


SMALL = ["a", "b", "c", '"a"', "'b'"]


def small_key(r, parts=3):
    return r.choice([".", " . "]).join(r.choice(SMALL) for _ in range(r.randrange(1, parts + 1)))


def small_value(r, depth=0):
    c = r.random()
    if c < 0.4 or depth > 2:
        return r.choice(['"x"', "'y'", "1", "true", '"""z"""'])
    if c < 0.6:
        return "[" + ", ".join(small_value(r, depth + 1) for _ in range(r.randrange(3))) + "]"
    return "{" + ", ".join("%s = %s" % (small_key(r, 2), small_value(r, depth + 1)) for _ in range(r.randrange(4))) + "}"


def structure(r):
    """Tables, dotted keys and inline tables over a three-letter alphabet, so
    that they meet: TOML's rules on defining and extending tables."""
    lines = []
    for _ in range(r.randrange(1, 10)):
        if r.random() < 0.3:
            lines.append("[%s]" % small_key(r))
        else:
            lines.append("%s = %s" % (small_key(r), small_value(r)))
    return ("\n".join(lines) + "\n").encode()


def initdata(r):
    lines = []
    if r.random() < 0.5:
        lines.append("# initdata " + text(r, 20).replace("\n", ""))
    lines.append('version = "0.1.0"')
    lines.append('algorithm = "%s"' % r.choice(["sha256", "sha384", "sha512"]))
    for _ in range(r.randrange(3)):
        lines.append("%s = %s" % (key(r), value(r)))
    for _ in range(r.randrange(1, 4)):
        lines.append("")
        lines.append("[%s]%s" % (r.choice(["data", key(r), "data." + keypart(r)]),
                                 r.choice(["", "  # table"])))
        for _ in range(r.randrange(5)):
            k = r.choice(['"aa.toml"', '"cdh.toml"', '"policy.rego"', key(r)])
            lines.append("%s = %s%s" % (k, value(r), r.choice(["", " # c", "\t#\t" + text(r, 5).replace("\n", "")])))
    doc = "\n".join(lines) + r.choice(["", "\n"])
    data = doc.encode("utf-8")
    if r.random() < 0.1:
        data = data.replace(b"\n", b"\r\n")
    return data


def mutate(r, data):
    data = bytearray(data)
    for _ in range(r.randrange(1, 4)):
        c = r.random()
        pos = r.randrange(len(data) + 1)
        if c < 0.2 and data:
            i = min(pos, len(data) - 1)
            data[i] ^= 1 << r.randrange(8)
        elif c < 0.3:
            del data[pos:]
        elif c < 0.5:
            data[pos:pos] = r.choice(BAD_BYTES)
        elif c < 0.7:
            data[pos:pos] = r.choice(PUNCT)
        elif c < 0.8 and data:
            del data[pos:pos + r.randrange(1, 4)]
        else:
            lines = bytes(data).split(b"\n")
            i = r.randrange(len(lines))
            lines.insert(r.randrange(len(lines) + 1), lines[i])
            data = bytearray(b"\n".join(lines))
    return bytes(data)
