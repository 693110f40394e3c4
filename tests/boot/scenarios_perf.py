# SPDX-License-Identifier: Apache-2.0
# Boot scenarios of the performance work: the per-step breakdown a user reads
# in /run/cocoinit/state.json. Executed in boot.py's namespace.


def scenario_state_timing_steps(t):
    """state.json's timing_us holds the main steps, then the boot's sub-steps,
    each no longer than the step it is part of; mem_total_kib is the guest's
    memory (sysinfo() read in the right unit)."""
    for s in ("vol-a", "initdata", "vol-c"):
        t.disk(s, kata_raw(TOML) if s == "initdata" else b"")
    b = t.boot(["cocoinit.initdata=required", "cocoinit.modules=" + DEFAULT_MODULES])
    expect(b.agent_ran(), "the agent did not run")
    st = b.state()
    tu = st["timing_us"]
    main = ["mounts", "modules", "listen", "discover", "consume", "extensions", "total", "boot", "version_digest"]
    expect(list(tu)[:len(main)] == main, f"main steps first, in order: {list(tu)}")
    subs = list(tu)[len(main):]
    for k in ("mounts.early", "mounts.console", "cmdline", "modules.uevent", "modules.load", "modules.prefetch",
              "modules.shares", "discover.run"):
        expect(k in subs, f"sub-step {k} missing: {subs}")
    expect(all(isinstance(v, int) and v >= 0 for v in tu.values()), tu)
    expect(all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", k) for k in subs), subs)
    expect(tu["mounts.early"] + tu["mounts.console"] <= tu["mounts"], tu)
    # the uevent socket is bound before the modules load, the serials read while they load
    expect(tu["modules.uevent"] + tu["modules.load"] + tu["modules.shares"] <= tu["modules"], tu)
    expect(tu["modules.prefetch"] <= tu["modules.load"], tu)
    expect(tu["discover.run"] <= tu["discover"], tu)
    expect(tu["modules.load"] > 0 and tu["discover.run"] > 0, tu)
    # QEMU gives the guest 512 MiB; the kernel keeps some of it for itself.
    mem = st["resources"]["mem_total_kib"]
    expect(400 * 1024 < mem <= 512 * 1024, f"mem_total_kib {mem}")
    log("timing_us: " + json.dumps(tu))


def scenario_initdata_not_last(t):
    """The initdata disk is the first of eight: the modules load in a child
    while PID 1 reads each announced disk's serial; the scan takes those
    answers, finds the one initdata disk (not a decoy probed after it) and
    consumes it whole. A second disk with the same serial, probed last, still
    makes the boot refuse the ambiguity."""
    serials = ["initdata"] + [f"vol-{i}" for i in range(6)] + ["initdatb"]
    for s in serials:
        t.disk(s, kata_raw(TOML) if s == "initdata" else b"")
    b = t.boot(["cocoinit.initdata=required", "cocoinit.log=debug", "loglevel=8",
                "cocoinit.modules=" + DEFAULT_MODULES])
    expect(b.agent_ran(), "the agent did not run")
    dev = expect_found(b, r"/dev/vd[a-h]", "initdata")
    m = re.search(r"cocoinit: modules: (\d+) disk serials read while they loaded$", b.console, re.M)
    expect(m, "no line on the serials read while the modules loaded")
    expect(1 <= int(m.group(1)) <= len(serials), f"serials read ahead: {m.group(1)}")
    serials_seen = dict(l.split(" ", 1) for l in b.lines("serial "))
    expect(serials_seen.get(dev) == "initdata", f"{dev} is not the initdata disk: {serials_seen}")
    got_toml = "\n".join(b.lines("initdata ")) + "\n"
    expect(got_toml == TOML.decode(), f"initdata.toml differs: {got_toml!r}")
    st = b.state()
    expect(st["initdata"]["examined"] >= len(serials), f"examined {st['initdata']['examined']}")
    expect("modules.prefetch" in st["timing_us"], f"no modules.prefetch sub-step: {list(st['timing_us'])}")

    # The same serial twice, the second copy probed last: refused, not the first taken.
    t.disks = t.disks[:-1]
    t.disk("initdata", b"")
    b = t.boot(["cocoinit.initdata=required", "cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: initdata: ambiguous serial=initdata devices=/dev/vda,/dev/vdh$")
    expect_powered_off_by_cocoinit(b)
    expect(not b.agent_ran(), "the agent ran with two initdata disks")


def scenario_rehearsal_leaves_nothing(t):
    """The rehearsal runs while the modules load (its sub-steps in timing_us,
    its CPU time no more than its wall time) and leaves nothing the agent can
    see: no mount of its own, nothing in /run/cocoinit but state.json and
    what consume makes, the agent's state.json the real one (the initdata
    disk's digest, not the built-in document's). cocoinit.rehearse=0 runs
    none, and the boot hands off the same document."""
    for s in ("vol-a", "initdata"):
        t.disk(s, kata_raw(TOML) if s == "initdata" else b"")
    want = "sha256:" + hashlib.sha256(TOML).hexdigest()
    seen = {}
    for rehearse in ("1", "0"):
        b = t.boot(["cocoinit.initdata=required", "cocoinit.modules=" + DEFAULT_MODULES,
                    "cocoinit.rehearse=" + rehearse], agent_conf="dir=/run/cocoinit\n")
        expect(b.agent_ran(), f"rehearse={rehearse}: the agent did not run")
        st = b.state()
        tu = st["timing_us"]
        expect(st["initdata"]["digest"] == want, f"rehearse={rehearse}: digest {st['initdata']['digest']}")
        expect_console(b, r"cocoinit: initdata: digest " + re.escape(want) + " bound=none")
        targets = [l.split()[1] for l in b.lines("mount ")]
        expect(not any("rehearsal" in m for m in targets), f"a rehearsal mount is visible: {targets}")
        expect(targets.count("/run/cocoinit") == 0, f"a mount on /run/cocoinit: {targets}")
        entries = sorted(b.lines("dirent /run/cocoinit "))
        expect(entries == ["state.json"], f"rehearse={rehearse}: /run/cocoinit holds {entries}")
        seen[rehearse] = tu
    on, off = seen["1"], seen["0"]
    for k in ("rehearsal", "rehearsal.cpu", "rehearsal.wait"):
        expect(k in on, f"rehearse=1: no {k} in {list(on)}")
        expect(k not in off, f"rehearse=0: {k} in {list(off)}")
    expect(0 < on["rehearsal.cpu"] <= on["rehearsal"], f"cpu {on['rehearsal.cpu']} wall {on['rehearsal']}")
    expect(on["rehearsal"] <= on["modules"], f"the rehearsal outlasted the modules step: {on}")
