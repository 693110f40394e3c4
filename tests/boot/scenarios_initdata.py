# SPDX-License-Identifier: Apache-2.0
# Initdata as the agent consumes it: the document's rules (version,
# algorithm, [data] of strings), its digest (checked against hashlib), the
# three files written from [data] (byte-exact, mode 0400, nothing else), the
# TEE binding's answer without a TEE, and the tools (initdata show/digest,
# mkinitdata). Executed in boot.py's namespace: its helpers are in scope.
import base64
import tomllib

ALGS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
FILES = ("aa.toml", "cdh.toml", "policy.rego")


def initdata_doc(alg="sha256", extra=""):
    """A document with the three files; a UTF-8 character, a tab and a
    line without a final newline in the values."""
    return (f'version = "0.1.0"\nalgorithm = "{alg}"\n\n[data]\n'
            '"aa.toml" = \'\'\'\n[token_configs]\n[token_configs.kbs]\nurl = "http://kbs.example:8080"\n\'\'\'\n'
            '"cdh.toml" = "socket = \\"unix:///run/confidential-containers/cdh.sock\\"\\n# caf\\u00e9\\tx"\n'
            '"policy.rego" = """\npackage agent_policy\n\ndefault AllowRequestsFailingPolicy := false"""\n'
            + extra).encode()


def boot_doc(t, toml, cmdline=(), agent_conf=""):
    t.disk("vol-a")
    t.disk("initdata", kata_raw(toml))
    return t.boot(["cocoinit.modules=" + DEFAULT_MODULES] + list(cmdline), agent_conf=agent_conf)


def expect_digest(b, toml, alg, bound):
    """The digest in the console line, the agent's environment and state.json
    is hashlib's over the exact bytes."""
    want = f"{alg}:{ALGS[alg](toml).hexdigest()}"
    expect_console(b, rf"cocoinit: initdata: digest {re.escape(want)} bound={bound}$")
    env = b.env().get("COCOINIT_INITDATA_DIGEST")
    expect(env == want, f"COCOINIT_INITDATA_DIGEST={env}, hashlib says {want}")
    st = b.state()["initdata"]
    expect(st.get("digest") == want and st.get("bound") == bound, f"state.json initdata: {st}")
    expect(b.state()["errors"] == [], b.state()["errors"])


def expect_files(b, toml):
    """aa.toml, cdh.toml, policy.rego as the agent sees them: tomllib's values,
    UTF-8 encoded, byte for byte; mode 0400, root's."""
    data = tomllib.loads(toml.decode())["data"]
    files = b.files()
    for name in FILES:
        path = f"{INITDATA_DIR}/{name}"
        f = files.get(path)
        want = data[name].encode()
        expect(f and "missing" not in f, f"the agent found no {path}: {f}")
        expect(f["sha256"] == sha256(want) and int(f["size"]) == len(want),
               f"{path}: sha256={f['sha256']} size={f['size']}, tomllib's value has sha256={sha256(want)} "
               f"size={len(want)}")
        expect(f["mode"] == "0400" and f["uid"] == "0", f"{path}: mode={f['mode']} uid={f['uid']}")


FILES_CONF = "".join(f"file={INITDATA_DIR}/{n}\n" for n in FILES)


def initdata_algorithm(t, alg):
    toml = initdata_doc(alg)
    b = boot_doc(t, toml, agent_conf=FILES_CONF)
    expect_found(b, r"/dev/vd[ab]", "initdata")
    expect(b.agent_ran(), "the agent did not run")
    expect_digest(b, toml, alg, "none")
    expect_files(b, toml)
    expect_initdata_file(b, toml)


def scenario_initdata_sha256(t):
    """sha256: the digest hashlib computes, in env, state.json and on the
    console; no TEE under TCG, so bound=none and the boot goes on."""
    initdata_algorithm(t, "sha256")


def scenario_initdata_sha384(t):
    """sha384, as sha256."""
    initdata_algorithm(t, "sha384")


def scenario_initdata_sha512(t):
    """sha512, as sha256, with cocoinit.initdata_bind=off: bound=off."""
    toml = initdata_doc("sha512")
    b = boot_doc(t, toml, ["cocoinit.initdata_bind=off"], agent_conf=FILES_CONF)
    expect(b.agent_ran(), "the agent did not run")
    expect_digest(b, toml, "sha512", "off")
    expect_files(b, toml)


def scenario_initdata_files_exact(t):
    """The example document plus [data] keys that look like paths
    (../../x, /etc/passwd, a key with a NUL and a newline): the three real
    files byte-exact and 0400, the initdata directory holds exactly four
    files, and no file of the other keys appears anywhere."""
    toml = example_toml() + (b'\n"../../x" = "escaped"\n"/etc/passwd" = "root::0:0::/:/bin/sh"\n'
                             b'"../policy.rego" = "up one"\n"a\\u0000b\\nc" = "nul"\n"x" = "plain"\n')
    conf = FILES_CONF + "".join(f"file={p}\n" for p in (
        "/run/x", "/etc/passwd", "/run/confidential-containers/policy.rego", f"{INITDATA_DIR}/x")) + \
        "dir=/\ndir=/run\ndir=/run/confidential-containers\ndir=/etc\n"
    b = boot_doc(t, toml, agent_conf=conf)
    expect(b.agent_ran(), "the agent did not run")
    expect_files(b, toml)
    expect_initdata_file(b, toml)
    expect_digest(b, toml, "sha384", "none")
    entries = sorted(l.split(" ", 1)[1] for l in b.lines("dirent ") if l.startswith(INITDATA_DIR + " "))
    expect(entries == ["aa.toml", "cdh.toml", "initdata.toml", "policy.rego"], f"{INITDATA_DIR} holds {entries}")
    files = b.files()
    for p in ("/run/x", "/etc/passwd", "/run/confidential-containers/policy.rego", f"{INITDATA_DIR}/x"):
        expect(files.get(p, {}).get("missing"), f"{p} exists: {files.get(p)}")
    for d, allowed in (("/run", {"confidential-containers", "cocoinit"}), ("/run/confidential-containers",
                                                                           {"initdata"})):
        names = {l.split(" ", 1)[1] for l in b.lines("dirent ") if l.startswith(d + " ")}
        expect(names <= allowed, f"{d} holds {sorted(names)}")
    for d in ("/", "/etc"):
        names = {l.split(" ", 1)[1] for l in b.lines("dirent ") if l.startswith(d + " ")}
        expect(not names & {"x", "passwd", "policy.rego"}, f"{d} holds {sorted(names)}")


def scenario_initdata_files_vfat(t):
    """The filesystem form (vfat): the same document gives the same digest and
    the same three files as the raw form; the form does not matter."""
    toml = initdata_doc("sha384", '"../../x" = "y"\n')
    mods = DEFAULT_MODULES + "," + FS_MODULES["vfat"]
    t.disk("vol-a")
    t.disk("initdata", fs="vfat", files={"initdata.toml": toml}, size_mib=2)
    b = t.boot(["cocoinit.modules=" + mods], modules=mods, agent_conf=FILES_CONF)
    expect(b.agent_ran(), "the agent did not run")
    expect(b.env().get("COCOINIT_INITDATA_FORMAT") == "vfat", f"format {b.env().get('COCOINIT_INITDATA_FORMAT')}")
    expect_digest(b, toml, "sha384", "none")
    expect_files(b, toml)
    expect_initdata_file(b, toml)
    entries = sorted(l.split(" ", 1)[1] for l in b.lines("dirent ") if l.startswith(INITDATA_DIR + " "))
    expect(entries == ["aa.toml", "cdh.toml", "initdata.toml", "policy.rego"], f"{INITDATA_DIR} holds {entries}")


def initdata_refused(t, toml, reason, cmdline=()):
    """A document the agent would refuse: fatal before anything acts on it,
    the reason on the console, no agent, power off."""
    b = boot_doc(t, toml, cmdline)
    expect_found(b, r"/dev/vd[ab]", "initdata", agent=False)
    expect_console(b, r"cocoinit: fatal: initdata: " + reason)
    expect_powered_off_by_cocoinit(b)
    expect(not b.agent_ran(), "the agent ran")
    expect_not_console(b, r"cocoinit: initdata: digest ")
    expect_not_console(b, r"Out of memory|oom-kill|Kernel panic|segfault|general protection")
    return b


def scenario_initdata_bad_version(t):
    """version = "0.2.0": fatal, naming the key and the value."""
    initdata_refused(t, b'version = "0.2.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = "x"\n',
                     r'version: line 1: "0\.2\.0" is not "0\.1\.0"$')


def scenario_initdata_bad_algorithm(t):
    """algorithm = "md5": fatal, naming the key and the value."""
    initdata_refused(t, b'version = "0.1.0"\nalgorithm = "md5"\n[data]\n"aa.toml" = "x"\n',
                     r'algorithm: line 2: "md5" is not one of sha256, sha384, sha512$')


def scenario_initdata_garbage(t):
    """Binary garbage where the TOML should be: a TOML fault on line 1."""
    garbage = bytes(range(256)) * 16
    initdata_refused(t, garbage, r"toml: line \d+: .+$")


def scenario_initdata_duplicate_key(t):
    """A key defined twice in [data]: a TOML fault on the second line."""
    toml = b'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = "a"\n"aa.toml" = "b"\n'
    initdata_refused(t, toml, r"toml: line 5: .+$")


def scenario_initdata_deep_nesting(t):
    """200,000 nested '[': refused as a TOML fault, no crash, no hang."""
    toml = b'version = "0.1.0"\nalgorithm = "sha256"\nx = ' + b"[" * 200000 + b"\n"
    initdata_refused(t, toml, r"toml: line 3: .+$")


def scenario_initdata_bad_utf8(t):
    """An invalid UTF-8 byte inside a [data] value: a TOML fault naming its line."""
    toml = b'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = "caf\xc3\x28"\n'
    initdata_refused(t, toml, r"toml: line 4: .+$")


def scenario_initdata_refused_continue(t):
    """on_error=continue with a refused document: the agent starts, but the
    document is gone, no file was made from it, no digest is passed on, and
    state.json records why."""
    toml = b'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = 1\n'
    b = boot_doc(t, toml, ["cocoinit.on_error=continue"])
    expect_console(b, r'cocoinit: fatal: initdata: data\."aa\.toml": line 4: an integer, not a string$')
    expect_console(b, r"cocoinit: on_error: continue$")
    expect(b.agent_ran(), "the agent did not run")
    env = b.env()
    expect("COCOINIT_INITDATA_DIGEST" not in env, f"a digest was passed on: {env}")
    entries = [l.split(" ", 1)[1] for l in b.lines("dirent ") if l.startswith(INITDATA_DIR + " ")]
    expect(entries == [], f"{INITDATA_DIR} holds {entries}")
    st = b.state()
    expect(st["initdata"]["digest"] is None and st["initdata"]["bound"] is None, st["initdata"])
    expect(len(st["errors"]) == 1 and "an integer, not a string" in st["errors"][0], st["errors"])


def scenario_initdata_bind_required(t):
    """cocoinit.initdata_bind=required without a TEE device (none under
    TCG): fatal, and none of the three files is written."""
    initdata_refused(t, initdata_doc("sha384"),
                     r"cocoinit\.initdata_bind=required and no TEE device \(dev/sev-guest, dev/tdx_guest, "
                     r"configfs-tsm\)$", ["cocoinit.initdata_bind=required"])


# ---- the tools, no guest --------------------------------------------------
def tool(t, *args):
    return subprocess.run([t.args.cocoinit] + list(args), capture_output=True)


def scenario_initdata_tool_show(t):
    """cocoinit initdata show (text and --json) agrees with tomllib and
    hashlib on valid documents, and refuses what the boot refuses, with
    the boot's reason on stderr and exit 1."""
    docs = {"example": example_toml(), "three": initdata_doc("sha512", '"../../x" = "y"\n'),
            "empty-data": b'version = "0.1.0"\nalgorithm = "sha256"\nother = 1\n[data]\n',
            "terminal": b'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = "\\u009b2J\\u202eevil\\u001b]0;x\\u0007 caf\xc3\xa9"\n'}
    for name, toml in docs.items():
        path = os.path.join(t.dir, name + ".toml")
        with open(path, "wb") as f:
            f.write(toml)
        r = tool(t, "initdata", "show", path, "--json")
        expect(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr!r}")
        got = json.loads(r.stdout)
        ref = tomllib.loads(toml.decode())
        alg = ref["algorithm"]
        expect(got["version"] == "0.1.0" and got["algorithm"] == alg, got)
        expect(got["digest"] == f"{alg}:{ALGS[alg](toml).hexdigest()}", f"{name}: {got['digest']}")
        expect(got["data"] == ref["data"], f"{name}: data {got['data']} != tomllib's {ref['data']}")
        expect(list(got["data"]) == list(ref["data"]), f"{name}: key order")
        expect(got["written"] == [k for k in ref["data"] if k in FILES], f"{name}: written {got['written']}")
        expect(got["ignored"] == [k for k in ref["data"] if k not in FILES], f"{name}: ignored {got['ignored']}")
        r = tool(t, "initdata", "show", path)
        expect(r.returncode == 0, f"{name}: text exit {r.returncode}")
        text = r.stdout.decode()
        # The text form is TOML too: it reads back as the same document plus the digest.
        back = tomllib.loads(text)
        expect(back["data"] == ref["data"] and back["digest"] == got["digest"], f"{name}: text form {text!r}")
        expect(all(c == "\n" or (" " <= c < "\x7f") or (c > "\x9f" and c not in "\u2028\u2029\u202a\u202b\u202c"
                                                                           "\u202d\u202e\u2066\u2067\u2068\u2069")
                   for c in text), f"{name}: control characters in the text output: {text!r}")
    bad = {
        "version": (b'version = "0.1.1"\nalgorithm = "sha256"\n[data]\n', r'version: line 1: "0\.1\.1" is not'),
        "algorithm": (b'version = "0.1.0"\nalgorithm = "sha1"\n[data]\n', r"algorithm: line 2: "),
        "no-data": (b'version = "0.1.0"\nalgorithm = "sha256"\n', r"data: missing$"),
        "not-string": (b'version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = true\n',
                       r'data\."x": line 4: a boolean, not a string$'),
        "duplicate": (b'version = "0.1.0"\nalgorithm = "sha256"\nversion = "0.1.0"\n', r"toml: line 3: "),
        "utf8": (b'version = "0.1.0"\nalgorithm = "sha256"\n[data]\na = "\xff"\n', r"toml: line 4: "),
        "nesting": (b"x = " + b"[" * 200000, r"toml: line 1: "),
    }
    for name, (toml, reason) in bad.items():
        path = os.path.join(t.dir, f"bad-{name}.toml")
        with open(path, "wb") as f:
            f.write(toml)
        for extra in ([], ["--json"]):
            r = tool(t, "initdata", "show", path, *extra)
            err = r.stderr.decode("utf-8", "replace")
            expect(r.returncode == 1 and r.stdout == b"", f"{name}: exit {r.returncode}, stdout {r.stdout[:80]!r}")
            expect(re.search(rf"cocoinit: initdata: {re.escape(path)}: {reason}", err, re.M),
                   f"{name}: stderr {err!r}")
    r = tool(t, "initdata", "show", os.path.join(t.dir, "absent.toml"))
    expect(r.returncode == 1 and b"No such file" in r.stderr, r.stderr)
    r = tool(t, "initdata", "show")
    expect(r.returncode == 2, f"usage error exit {r.returncode}")


def scenario_initdata_tool_digest(t):
    """cocoinit initdata digest: what the host puts into the TEE, hex and
    base64, for each platform (SNP truncates or pads to 32, TDX to 48)."""
    for alg in ALGS:
        toml = initdata_doc(alg)
        path = os.path.join(t.dir, f"{alg}.toml")
        with open(path, "wb") as f:
            f.write(toml)
        d = ALGS[alg](toml).digest()
        for platform, n in (("snp", 32), ("tdx", 48), ("none", len(d))):
            want = (d + b"\0" * n)[:n]
            r = tool(t, "initdata", "digest", path, "--platform", platform)
            expect(r.returncode == 0, f"{alg}/{platform}: exit {r.returncode} {r.stderr!r}")
            lines = dict(l.split(" ", 1) for l in r.stdout.decode().splitlines())
            expect(lines.get("hex") == want.hex(), f"{alg}/{platform}: hex {lines.get('hex')}, want {want.hex()}")
            expect(lines.get("base64") == base64.b64encode(want).decode(), f"{alg}/{platform}: {lines}")
            expect(lines.get("platform") == platform and lines.get("algorithm") == alg, lines)
    bad = os.path.join(t.dir, "bad.toml")
    with open(bad, "wb") as f:
        f.write(b'version = "0.1.0"\nalgorithm = "sha3"\n[data]\n')
    r = tool(t, "initdata", "digest", bad, "--platform", "snp")
    expect(r.returncode == 1 and r.stdout == b"" and b"algorithm: line 2" in r.stderr, r)
    r = tool(t, "initdata", "digest", bad, "--platform", "sev")
    expect(r.returncode == 2 and b"--platform is snp, tdx or none" in r.stderr, r)


def scenario_initdata_mkinitdata_check(t):
    """initramfs/mkinitdata writes an image of a document cocoinit accepts
    (the image holds it byte for byte) and refuses, with no image, one that
    cocoinit initdata show refuses; --raw-gzip and --no-check skip the check."""
    mk = os.path.join(SRCDIR, "initramfs", "mkinitdata")
    good = os.path.join(t.dir, "good.toml")
    bad = os.path.join(t.dir, "bad.toml")
    with open(good, "wb") as f:
        f.write(initdata_doc("sha384"))
    with open(bad, "wb") as f:
        f.write(b'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = 5\n')
    img = os.path.join(t.dir, "good.img")
    run([mk, "--cocoinit", t.args.cocoinit, good, img])
    with open(img, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[8:16])[0]
    expect(raw[:8] == b"initdata" and gzip.decompress(raw[16:16 + n]) == initdata_doc("sha384"), "image content")
    out = os.path.join(t.dir, "bad.img")
    r = subprocess.run([mk, "--cocoinit", t.args.cocoinit, bad, out], capture_output=True, text=True)
    expect(r.returncode != 0 and not os.path.exists(out), f"mkinitdata accepted it: rc={r.returncode}")
    expect('data."aa.toml": line 4: an integer, not a string' in r.stderr and "no image written" in r.stderr,
           r.stderr)
    r = subprocess.run([mk, "--cocoinit", os.path.join(t.dir, "nope"), good, out], capture_output=True, text=True)
    expect(r.returncode != 0 and not os.path.exists(out) and "not an executable cocoinit" in r.stderr, r.stderr)
    run([mk, "--no-check", bad, out])
    expect(os.path.exists(out), "--no-check wrote no image")
    # COCOINIT names the checker too.
    os.unlink(out)
    r = subprocess.run([mk, bad, out], capture_output=True, text=True, env=dict(os.environ, COCOINIT=t.args.cocoinit))
    expect(r.returncode != 0 and not os.path.exists(out), "COCOINIT=... did not check")


NO_BOOT.update({"initdata_tool_show", "initdata_tool_digest", "initdata_mkinitdata_check"})
