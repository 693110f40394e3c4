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
    for k in ("mounts.early", "mounts.console", "cmdline", "modules.load", "modules.shares", "discover.waiter",
              "discover.run"):
        expect(k in subs, f"sub-step {k} missing: {subs}")
    expect(all(isinstance(v, int) and v >= 0 for v in tu.values()), tu)
    expect(all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", k) for k in subs), subs)
    expect(tu["mounts.early"] + tu["mounts.console"] <= tu["mounts"], tu)
    expect(tu["modules.load"] + tu["modules.shares"] <= tu["modules"], tu)
    expect(tu["discover.waiter"] + tu["discover.run"] <= tu["discover"], tu)
    expect(tu["modules.load"] > 0 and tu["discover.run"] > 0, tu)
    # QEMU gives the guest 512 MiB; the kernel keeps some of it for itself.
    mem = st["resources"]["mem_total_kib"]
    expect(400 * 1024 < mem <= 512 * 1024, f"mem_total_kib {mem}")
    log("timing_us: " + json.dumps(tu))
