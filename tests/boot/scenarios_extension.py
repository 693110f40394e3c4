# SPDX-License-Identifier: Apache-2.0
# Guest extension images (Kata composable VM images) under QEMU: real
# dm-verity and EROFS in Debian's kernel, images built with
# initramfs/mkextension. Run in boot.py's namespace (Test, expect, ...).

# mkinitramfs follows soft dependencies (libcrc32c pre: crc32c -> crc32c_generic)
EXT_MODULES = DEFAULT_MODULES + ",dm_mod,dm_verity,erofs"
MKEXTENSION = os.path.join(SRCDIR, "initramfs", "mkextension")
EXT_HELLO = b"hello from the coco extension\n"
EXT_DIR = "/run/kata-extensions"
# kmsg's rate limit must not hide the lines these scenarios look for.
# dm_mod, dm_verity and erofs are not listed: cocoinit loads them (and their
# soft dependencies) when an extension is named.
EXT_CMDLINE = ["printk.devkmsg=on", "cocoinit.modules=" + DEFAULT_MODULES]


def ext_tree(t, name):
    root = os.path.join(t.dir, f"tree-{name}")
    files = {
        "etc/kata-extensions/components.toml": b"schema_version = 1\n",
        f"usr/share/{name}/hello.txt": EXT_HELLO,
        # incompressible: EROFS stores it as is, so its bytes can be found in p1
        f"usr/share/{name}/blob.bin": os.urandom(64 * 1024),
    }
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    return root, files


def ext_image(t, name, *opts):
    """Builds the extension image for name with mkextension; returns (path,
    params or "", the files on it)."""
    root, files = ext_tree(t, name)
    out = os.path.join(t.dir, f"ext-{name}-{len(t.disks)}.img")
    r = subprocess.run([MKEXTENSION, *opts, root, out], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"mkextension {name}: {r.stderr}")
    return out, r.stdout.strip(), files


def ext_disk(t, serial, path):
    """Attaches an existing image as a virtio disk with this serial."""
    t.disks.append((path, serial, "virtio-blk-pci"))


def ext_key(name, params):
    return f"kata.extension.{name}.verity_params" + (f"={params}" if params else "")


def ext_param(params, key):
    return dict(kv.split("=", 1) for kv in params.split(","))[key]


def expect_ext_mounted(b, name, params):
    """The console line, the mount the agent sees, a file read through it."""
    short = ext_param(params, "root_hash")[:16] if params else "none"
    expect_console(b, rf"cocoinit: extension: {re.escape(name)} mounted at {EXT_DIR}/{re.escape(name)} "
                      rf"from /dev/vd[a-z] verity={short} in \d+us$")
    m = b.mounts().get(f"{EXT_DIR}/{name}")
    expect(m is not None, f"{EXT_DIR}/{name} is not mounted: {sorted(b.mounts())}")
    src, fstype, opts = m
    expect(fstype == "erofs", f"{name}: mounted as {fstype}")
    expect({"ro", "nosuid", "nodev"} <= set(opts) and "noexec" not in opts, f"{name}: options {opts}")
    if params:
        expect(re.fullmatch(rf"/dev/mapper/extension-{re.escape(name)}|/dev/dm-\d+", src), f"{name}: source {src}")
    else:
        expect(re.fullmatch(r"/dev/vd[a-z]1?", src), f"{name}: source {src}")
    expect(f"read {EXT_DIR}/{name}/usr/share/{name}/hello.txt ok size={len(EXT_HELLO)}" in b.agent,
           f"{name}: the agent could not read a file from it: {b.lines('read ')}")
    return m


def ext_conf(*names, extra=()):
    lines = [f"read={EXT_DIR}/{n}/usr/share/{n}/hello.txt" for n in names] + list(extra)
    return "\n".join(lines) + "\n"


def scenario_ext_two_among_decoys(t):
    """A measured extension and an unmeasured one (bare key) among decoy disks
    next to initdata: both mounted before the agent runs, through dm-verity for
    the measured one; state.json, the environment and the timing line say so."""
    coco, params, _ = ext_image(t, "coco")
    tools, _, _ = ext_image(t, "tools", "--unmeasured")
    t.disk("vol-a")
    t.disk("initdata", kata_raw(TOML))
    ext_disk(t, "extension-coco", coco)
    t.disk("extension")  # a decoy: not an extension serial
    ext_disk(t, "extension-tools", tools)
    t.disk("scratch")
    b = t.boot(EXT_CMDLINE + ["cocoinit.initdata=required", ext_key("coco", params), ext_key("tools", "")],
               modules=EXT_MODULES, agent_conf=ext_conf("coco", "tools"))
    expect_console(b, r"cocoinit: initdata: found /dev/vd[a-f] via sysfs serial=initdata in \d+us$")
    expect_ext_mounted(b, "coco", params)
    expect_ext_mounted(b, "tools", "")
    expect_console(b, r"cocoinit: timing: mounts=\d+ modules=\d+ listen=\d+ discover=\d+ consume=\d+ "
                      r"extensions=\d+ total=\d+ boot=\d+$")
    expect(b.agent_ran(), "the agent did not run")
    env = b.env()
    expect(env.get("COCOINIT_EXTENSIONS") == "coco:tools", f"COCOINIT_EXTENSIONS={env.get('COCOINIT_EXTENSIONS')}")
    st = b.state()
    ext = {e["name"]: e for e in st["extensions"]}
    expect([e["name"] for e in st["extensions"]] == ["coco", "tools"], st["extensions"])
    serials = dict(l.split(" ", 1) for l in b.lines("serial "))
    expect(serials.get(ext["coco"]["device"]) == "extension-coco", f"coco device {ext['coco']} serials {serials}")
    expect(ext["coco"]["verified"] is True and ext["coco"]["root_hash"] == ext_param(params, "root_hash"),
           ext["coco"])
    expect(ext["tools"]["verified"] is False and ext["tools"]["root_hash"] is None, ext["tools"])
    expect(ext["coco"]["method"] == "sysfs" and ext["coco"]["source"] == "/dev/mapper/extension-coco", ext["coco"])
    expect(all(isinstance(e["elapsed_us"], int) and e["elapsed_us"] > 0 for e in st["extensions"]), st)
    expect("extensions" in st["timing_us"], st["timing_us"])
    expect(st["errors"] == [], st["errors"])


def scenario_ext_block_flipped(t):
    """One data block changed after the hash tree was made: the mount goes
    through dm-verity, so reading that file fails with EIO while the rest reads."""
    coco, params, files = ext_image(t, "coco")
    blob = files["usr/share/coco/blob.bin"]
    with open(coco, "r+b") as f:
        img = f.read()
        at = img.find(blob[8192:8192 + 512])
        expect(at >= 0 and img.find(blob[8192:8192 + 512], at + 1) < 0, "the file's bytes are not in the image once")
        f.seek(at + 100)
        f.write(bytes([img[at + 100] ^ 0xFF]))
    ext_disk(t, "extension-coco", coco)
    b = t.boot(EXT_CMDLINE + [ext_key("coco", params)], modules=EXT_MODULES,
               agent_conf=ext_conf("coco", extra=[f"read={EXT_DIR}/coco/usr/share/coco/blob.bin"]))
    expect_ext_mounted(b, "coco", params)
    expect(f"read {EXT_DIR}/coco/usr/share/coco/blob.bin errno=EIO" in b.agent,
           f"reading the changed file: {b.lines('read ')}")
    expect_console(b, r"device-mapper: verity: .*data block")


def scenario_ext_refusals(t):
    """Every refusal of the integrity table, in one boot with on_error=continue:
    a wrong root hash, params stripped to the bare key, params without a hash
    partition, huge data_blocks, a disk that never comes. Each is a fatal line;
    none is mounted, its directory does not exist, the agent is not told of it."""
    good, params, _ = ext_image(t, "good")
    wrong, wparams, _ = ext_image(t, "wrong")
    stripped, _, _ = ext_image(t, "stripped")
    nohash, _, _ = ext_image(t, "nohash", "--unmeasured")
    huge, hparams, _ = ext_image(t, "huge")
    bad_hash = ext_param(params, "root_hash")  # another image's hash
    wparams = wparams.replace(ext_param(wparams, "root_hash"), bad_hash)
    hparams = hparams.replace("data_blocks=" + ext_param(hparams, "data_blocks"), "data_blocks=1000000000000")
    for name, path in [("good", good), ("wrong", wrong), ("stripped", stripped), ("nohash", nohash), ("huge", huge)]:
        ext_disk(t, f"extension-{name}", path)
    names = ["good", "wrong", "stripped", "nohash", "huge", "absent"]
    b = t.boot(EXT_CMDLINE + ["cocoinit.on_error=continue", "cocoinit.extension_timeout_ms=1500",
                              ext_key("good", params), ext_key("wrong", wparams), ext_key("stripped", ""),
                              ext_key("nohash", params), ext_key("huge", hparams), ext_key("absent", params)],
               modules=EXT_MODULES, agent_conf=ext_conf(*names))
    expect_ext_mounted(b, "good", params)
    expect_console(b, r"cocoinit: fatal: extension wrong \(/dev/vd[a-z]\): cannot mount .*")
    expect_console(b, r"cocoinit: fatal: extension stripped \(/dev/vd[a-z]\): has a dm-verity hash partition but the command line gives no verity params")
    expect_console(b, r"cocoinit: fatal: extension nohash \(/dev/vd[a-z]\): the command line gives verity params but the disk has no dm-verity hash partition")
    expect_console(b, r"cocoinit: fatal: extension huge \(/dev/vd[a-z]\): verity params do not fit the disk: .*")
    expect_console(b, r"cocoinit: fatal: extension absent: no disk with serial=extension-absent within 1500ms$")
    expect(b.agent_ran(), "the agent did not run")
    mounts = b.mounts()
    for n in names[1:]:
        expect(f"{EXT_DIR}/{n}" not in mounts, f"{n} is mounted: {mounts.get(f'{EXT_DIR}/{n}')}")
        expect(f"read {EXT_DIR}/{n}/usr/share/{n}/hello.txt open errno=ENOENT" in b.agent,
               f"{n}: {[l for l in b.lines('read ') if n in l]}")
    expect(not any("extension-" in src and not src.endswith("extension-good") for src, _, _ in mounts.values()),
           mounts)
    expect(b.env().get("COCOINIT_EXTENSIONS") == "good", b.env().get("COCOINIT_EXTENSIONS"))
    st = b.state()
    expect([e["name"] for e in st["extensions"]] == ["good"], st["extensions"])
    expect(len(st["errors"]) == 5 and all(e.startswith("extension ") for e in st["errors"]), st["errors"])


def scenario_ext_wrong_hash_poweroff(t):
    """With the default policy a refused extension powers the VM off before
    the agent runs."""
    wrong, wparams, _ = ext_image(t, "coco")
    wparams = wparams.replace(ext_param(wparams, "root_hash"), "ab" * 32)
    t.disk("initdata", kata_raw(TOML))
    ext_disk(t, "extension-coco", wrong)
    b = t.boot(EXT_CMDLINE + [ext_key("coco", wparams)], modules=EXT_MODULES)
    expect_console(b, r"cocoinit: fatal: extension coco \(/dev/vd[a-z]\): ")
    expect_not_console(b, r"cocoinit: extension: coco mounted")
    expect_powered_off_by_cocoinit(b)
    expect(not b.agent_ran(), "the agent ran")


def scenario_ext_ambiguous_and_stray(t):
    """Two disks with one extension's serial are ambiguous, an extension disk the
    command line does not name is refused, and a name longer than 10 bytes is
    found by the serial the device cuts to 20 bytes, with a warning."""
    a, params, _ = ext_image(t, "coco")
    ext_disk(t, "extension-coco", a)
    ext_disk(t, "extension-coco", a + ".copy")
    shutil.copy(a, a + ".copy")
    stray, _, _ = ext_image(t, "evil", "--unmeasured")
    ext_disk(t, "extension-evil", stray)
    longp, lparams, _ = ext_image(t, "averylongname")
    ext_disk(t, "extension-averylongname", longp)
    b = t.boot(EXT_CMDLINE + ["cocoinit.on_error=continue", ext_key("coco", params),
                              ext_key("averylongname", lparams)],
               modules=EXT_MODULES, agent_conf=ext_conf("coco", "averylongname"))
    expect_console(b, r"cocoinit: extension: ambiguous serial=extension-coco devices=/dev/vd[a-z],/dev/vd[a-z]$")
    expect_console(b, r"cocoinit: fatal: extension coco: 2 disks have serial=extension-coco; refusing to pick one$")
    expect_console(b, r"cocoinit: fatal: extension disk /dev/vd[a-z] has serial=extension-evil, which no "
                      r"kata.extension.<name>.verity_params names; refusing$")
    expect_console(b, r"cocoinit: warning: extension averylongname: its disk reports the serial cut to 20 bytes "
                      r"\(extension-averylongn\)$")
    expect_ext_mounted(b, "averylongname", lparams)
    expect(f"{EXT_DIR}/coco" not in b.mounts() and f"{EXT_DIR}/evil" not in b.mounts(), b.mounts())
    expect(b.env().get("COCOINIT_EXTENSIONS") == "averylongname", b.env())


def scenario_ext_hostile_params(t):
    """A verity_params value as long as the 2048-byte command line allows
    (an over-long, non-hex root hash) is a command-line error naming the key."""
    line = EXT_CMDLINE + ["console=ttyS0", "panic=-1"]
    room = 2047 - len(" ".join(line)) - len(" " + ext_key("coco", "root_hash=")) - 1
    b = t.boot(EXT_CMDLINE + [ext_key("coco", "root_hash=" + "z" * room)], modules=EXT_MODULES)
    expect_console(b, r"cocoinit: fatal: cmdline: kata\.extension\.coco\.verity_params: \"root_hash=z{54}\" \.\.\. "
                      r"\(\d{4} bytes\) is not verity params: root_hash: ")
    expect_powered_off_by_cocoinit(b)
    expect(not b.agent_ran(), "the agent ran")


def scenario_ext_hotplug(t):
    """The extension disk is plugged after cocoinit started: found through its
    uevent, its partitions waited for, mounted through dm-verity."""
    img, params, _ = ext_image(t, "late")
    plugged = []

    def plug(line, qmp):
        # the listeners come just before the scan; the disk shows about 1 s later
        if not plugged and "cocoinit: listen:" in line:
            qmp.execute("blockdev-add", **{"node-name": "hot", "driver": "raw", "read-only": True,
                                           "file": {"driver": "file", "filename": img, "read-only": True}})
            qmp.execute("device_add", driver="virtio-blk-pci", drive="hot", serial="extension-late", id="hot0")
            plugged.append(True)

    b = t.boot(EXT_CMDLINE + ["cocoinit.passfd=1", "cocoinit.extension_timeout_ms=30000", ext_key("late", params)],
               modules=EXT_MODULES, agent_conf=ext_conf("late"), on_console=plug)
    expect(plugged, "the disk was never plugged")
    expect_ext_mounted(b, "late", params)
    expect(b.env().get("COCOINIT_EXTENSIONS") == "late", b.env())
    ext = b.state()["extensions"]
    expect(len(ext) == 1 and ext[0]["method"] == "uevent" and ext[0]["verified"] is True, ext)


def scenario_ext_tool(t):
    """The tool inside the guest, as a systemd unit would run it: `extension
    list` shows what the boot did, `umount` undoes the mount and the dm-verity
    device, `mount` redoes them (the file reads again), and `mount` of an
    extension whose hash partition the command line does not cover exits 1."""
    coco, params, _ = ext_image(t, "coco")
    strip, _, _ = ext_image(t, "strip")
    ext_disk(t, "extension-coco", coco)
    ext_disk(t, "extension-strip", strip)
    hello = f"{EXT_DIR}/coco/usr/share/coco/hello.txt"
    conf = "\n".join([
        f"read={hello}",
        "run=/init extension list --json",
        "run=/init extension umount coco",
        f"read={hello}",
        "run=/init extension umount coco",
        "run=/init extension mount coco",
        f"read={hello}",
        "run=/init extension mount strip",
        f"read={EXT_DIR}/strip/usr/share/strip/hello.txt",
    ]) + "\n"
    # no key names strip: the boot refuses it (on_error=continue goes on), the tool too
    b = t.boot(EXT_CMDLINE + ["cocoinit.on_error=continue", ext_key("coco", params)], modules=EXT_MODULES,
               agent_conf=conf)
    expect_console(b, r"cocoinit: fatal: extension disk /dev/vd[a-z] has serial=extension-strip, which no ")
    expect_ext_mounted(b, "coco", params)
    runs = b.lines("run ")
    expect(runs == ["/init extension list --json exit=1", "/init extension umount coco exit=0",
                    "/init extension umount coco exit=0", "/init extension mount coco exit=0",
                    "/init extension mount strip exit=1"], runs)
    out = b.lines("runout ")
    listing = json.loads(next(l for l in out if l.startswith("{")))
    expect([(e["name"], e["action"]) for e in listing["extensions"]] == [("coco", "verity")], listing)
    expect(len(listing["strays"]) == 1, listing)  # strip: no key names it
    reads = b.lines("read ")
    expect(reads == [f"{hello} ok size={len(EXT_HELLO)}", f"{hello} open errno=ENOENT",
                     f"{hello} ok size={len(EXT_HELLO)}",
                     f"{EXT_DIR}/strip/usr/share/strip/hello.txt open errno=ENOENT"], reads)
    expect("Extension coco unmounted" in out and "Extension coco mounted at /run/kata-extensions/coco" in out, out)
    expect(any(re.fullmatch(r"cocoinit: extension strip \(/dev/vd[a-z]\): has a dm-verity hash partition but "
                            r"the command line gives no verity params: .*", l) for l in out), out)
