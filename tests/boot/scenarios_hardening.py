# SPDX-License-Identifier: Apache-2.0
# Boot scenarios for the hardening of the review (executed in boot.py's
# namespace): the kmsg rate limit never hides the stable lines, an unused
# malformed Kata key is only a warning, a shell after a failed hand-off gets
# no listener fds, a read-only ext4 with a dirty journal is not written, and
# the agent runs with its oom_score_adj, RLIMIT_NOFILE and module lockdown.
# Checks are combined so that few boots cover them (CI budget).


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def expect_version_first(b, binary):
    """The first cocoinit line names the version and the running binary's digest."""
    lines = [l for l in b.console.splitlines() if "cocoinit: " in l]
    want = f"cocoinit: version 0.2.0 sha256={file_sha256(binary)}"
    expect(lines and lines[0].endswith(want), f"first cocoinit line {lines[:1]}, want {want!r}")


def expect_no_ratelimit(b):
    # The kernel says so (at close of /dev/kmsg) when it dropped lines.
    expect_not_console(b, r"output lines suppressed due to ratelimiting")


def scenario_hardening_ratelimit_shell(t):
    """The kernel's default kmsg rate limit (10 lines per 5 s), a dozen
    unknown keys, six listeners, a malformed agent.passfd_listener_port that
    this boot does not use, an agent that is missing and on_error=shell:
    every stable line reaches the console (fatal:, on_error:, timing:,
    handoff:), the unknown keys are one line, the unused key is a warning,
    and the shell (the test agent as /bin/sh) starts with no listener fd."""
    t.disk("vol-a")
    unknown = [f"cocoinit.typo{i}=1" for i in range(12)]
    listen = ",".join(f"{1030 + i}:l{i}" for i in range(6))
    b = t.boot(unknown + ["agent.passfd_listener_port=0x403", "cocoinit.vsock_listen=" + listen,
                          "cocoinit.agent=/usr/bin/no-such-agent", "cocoinit.on_error=shell",
                          "cocoinit.modules=" + DEFAULT_MODULES],
               files=[(t.args.agent, "/bin/sh")])
    expect_version_first(b, t.args.cocoinit)
    warn = re.findall(r"cocoinit: warning: unknown kernel command line keys? ignored: (.*)$", b.console, re.M)
    expect(len(warn) == 1, f"unknown keys: {len(warn)} lines, want one: {warn}")
    m = re.fullmatch(r"((?:cocoinit\.typo\d+ ?)+?)(?: and (\d+) more)?", warn[0])
    expect(m and len(m.group(1).split()) + int(m.group(2) or 0) == 12, f"unknown keys line: {warn[0]!r}")
    expect_console(b, r'cocoinit: warning: agent\.passfd_listener_port: "0x403" is not a number; '
                      r'ignored \(cocoinit\.passfd is off\)$')
    for i in range(6):
        expect_console(b, rf"cocoinit: listen: vsock port={1030 + i} name=l{i} fd={3 + i}$")
    expect_console(b, r"cocoinit: timing: mounts=\d+ .* total=\d+ boot=\d+$")
    expect_console(b, r"cocoinit: handoff: exec /usr/bin/no-such-agent listen_fds=6$")
    expect_console(b, r"cocoinit: fatal: handoff: exec /usr/bin/no-such-agent: No such file or directory$")
    expect_console(b, r"cocoinit: on_error: shell$")
    expect_no_ratelimit(b)
    expect("start pid=1 argv0=/bin/sh" in b.agent, f"/bin/sh did not start as PID 1: {b.agent[:3]}")
    fds = sorted(int(l.split()[0]) for l in b.lines("fd "))
    expect(fds == [0, 1, 2], f"the shell inherited fds {fds}: the listeners were not closed")
    env = b.env()
    expect("LISTEN_FDS" not in env, f"the shell got LISTEN_*: {env}")


def scenario_hardening_handoff(t):
    """A production-like hand-off: passfd plus 16 listeners whose names are as
    long as the parser allows (LISTEN_FDNAMES at its bound), an ext4 initdata
    disk whose journal is marked as needing recovery, modules_lockdown=1 and
    the default oom_score_adj and nofile. The stable lines reach the console
    despite 17 listen lines; the agent sees -997, 1048576 open files and
    modules_disabled=1; the disk is mounted read-only at
    /run/cocoinit/initdata-fs and initdata.toml copied onto the tmpfs; the
    host's image file is byte-identical afterwards."""
    toml = example_toml()
    img = t.disk("initdata", fs="ext4", files={"initdata.toml": toml, "extra.txt": b"second file\n"}, size_mib=8)
    run(["debugfs", "-w", "-R", "feature needs_recovery", img])
    feats = subprocess.run(["dumpe2fs", "-h", img], capture_output=True, text=True).stdout
    expect("needs_recovery" in feats, "debugfs did not mark the image as needing recovery")
    before = file_sha256(img)
    names = [chr(ord("a") + i) * 63 for i in range(16)]
    listen = ",".join(f"{2000 + i}:{n}" for i, n in enumerate(names))
    mods = DEFAULT_MODULES + ",crc32c_generic,ext4"
    b = t.boot(["cocoinit.passfd=1", "cocoinit.vsock_listen=" + listen, "cocoinit.modules_lockdown=1",
                "cocoinit.modules=" + mods], modules=mods,
               agent_conf="file=/run/cocoinit/initdata-fs/extra.txt\n")
    expect_version_first(b, t.args.cocoinit)
    expect_console(b, r"cocoinit: listen: vsock port=1027 name=passfd fd=3$")
    for i, n in enumerate(names):
        expect_console(b, rf"cocoinit: listen: vsock port={2000 + i} name={n} fd={4 + i}$")
    dev = expect_found(b, r"/dev/vda", "initdata")
    expect_console(b, r"cocoinit: timing: mounts=\d+ .* total=\d+ boot=\d+$")
    expect_console(b, r"cocoinit: handoff: exec /usr/bin/kata-agent listen_fds=17$")
    expect_no_ratelimit(b)
    expect("start pid=1 argv0=/usr/bin/kata-agent" in b.agent, "the agent did not run as PID 1")

    env = b.env()
    expect(env.get("LISTEN_FDS") == "17" and env.get("LISTEN_FDNAMES") == ":".join(["passfd"] + names),
           f"LISTEN_* {env.get('LISTEN_FDS')} {env.get('LISTEN_FDNAMES')}")
    expect("listener passfd fd=3 port=1027 accepted" in b.agent, "passfd listener")
    expect(f"listener {names[-1]} fd=19 port=2015 accepted" in b.agent, "the 17th listener")

    expect(b.lines("self oom_score_adj ") == ["-997"], f"oom_score_adj {b.lines('self oom_score_adj ')}")
    nofile = [l.split() for l in b.lines("self limits Max open files")]
    expect(nofile == [["1048576", "1048576", "files"]], f"open files limit {nofile}")
    expect(b.lines("modules_disabled ") == ["1"], f"modules_disabled {b.lines('modules_disabled ')}")

    expect(env.get("COCOINIT_INITDATA_FORMAT") == "ext4", f"format {env.get('COCOINIT_INITDATA_FORMAT')}")
    mounts = b.mounts()
    fsm = mounts.get("/run/cocoinit/initdata-fs")
    expect(fsm and fsm[1] == "ext4" and fsm[0] == "/dev/cocoinit/" + dev[len("/dev/"):],
           f"/run/cocoinit/initdata-fs: {fsm}")
    for opt in ("ro", "nosuid", "nodev", "noexec"):
        expect(opt in fsm[2], f"/run/cocoinit/initdata-fs lacks {opt}: {fsm[2]}")
    tm = mounts.get(INITDATA_DIR)
    expect(tm and tm[1] == "tmpfs", f"{INITDATA_DIR}: {tm}")
    expect_initdata_file(b, toml)
    extra = b.files().get("/run/cocoinit/initdata-fs/extra.txt")
    expect(extra and extra.get("sha256") == sha256(b"second file\n"), f"extra.txt: {extra}")

    st = b.state()
    a = st["agent"]
    expect(a["oom_score_adj"] == -997 and a["nofile"] == 1048576 and a["modules_lockdown"] is True, a)
    expect(st["initdata"]["format"] == "ext4" and st["errors"] == [], st)
    log(f"version digest of /proc/self/exe under TCG: {st['timing_us']['version_digest']} us "
        f"({os.path.getsize(t.args.cocoinit)} bytes)")

    after = file_sha256(img)
    expect(before == after, "the read-only initdata disk was written: the host's image changed")
