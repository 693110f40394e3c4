#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# QEMU boot tests: boots Debian's kernel under TCG with an initramfs holding
# cocoinit as /init and tests/boot/test-agent, with disks of given serials
# (virtio-blk, virtio-scsi or NVMe) and any extra QEMU devices (9p shares),
# and asserts on the console (ttyS0) and the agent's report (ttyS1).
# Each scenario is a function scenario_<name>(t); meson runs one per test.
# Adding one: write the function, add its name to tests/boot/meson.build
# (and to NO_BOOT if it only runs the tools).
import argparse
import fcntl
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP = 77  # meson's "skipped"
DEFAULT_MODULES = "virtio_pci,virtio_blk,vsock_loopback"
BOOT_SLOTS = 2  # boots at once on this machine, whatever meson's -j says
QEMU_WALL_LIMIT = 90  # seconds: a hung guest is a failure, not a hang
SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INITDATA_DIR = "/run/confidential-containers/initdata"


BUSES = ("virtio-blk-pci", "scsi-hd", "nvme")


class Failure(Exception):
    pass


def kata_raw(toml: bytes) -> bytes:
    """Kata's initdata disk: magic, u64 LE gzip length, gzip, padded to 512."""
    gz = gzip.compress(toml, mtime=0)
    data = b"initdata" + struct.pack("<Q", len(gz)) + gz
    return data + b"\0" * (-len(data) % 512)


class Boot:
    """What one boot produced."""

    def __init__(self, console, report, rc, wall):
        self.console = console  # ttyS0: kernel and cocoinit lines
        self.report = report  # ttyS1: "AGENT ..." lines
        self.rc = rc
        self.wall = wall
        self.agent = [l[len("AGENT "):] for l in report.splitlines() if l.startswith("AGENT ")]

    def agent_ran(self):
        return any(l.startswith("start ") for l in self.agent)

    def env(self):
        out = {}
        for l in self.agent:
            if l.startswith("env "):
                k, _, v = l[4:].partition("=")
                out[k] = v
        return out

    def lines(self, prefix):
        return [l[len(prefix):] for l in self.agent if l.startswith(prefix)]

    def state(self):
        # The agent writes each byte outside printable ASCII, and each backslash, as \xNN.
        text = re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), "\n".join(self.lines("state ")))
        if not text:
            raise Failure("the agent found no /run/cocoinit/state.json")
        return json.loads(text)

    def files(self):
        """The agent's "file PATH mode=.. uid=.. size=.. sha256=.." lines, by path."""
        out = {}
        for l in self.lines("file "):
            path, _, rest = l.partition(" ")
            out[path] = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
            if "missing" in rest.split():
                out[path]["missing"] = rest
        return out

    def filedata(self, path):
        """The lines the agent read from path, joined back with newlines."""
        return "\n".join(l[len(path) + 1:] for l in self.lines("filedata ") if l.startswith(path + " "))

    def mounts(self):
        """The guest's /proc/mounts, by target (the last mount on a target wins):
        {target: (source, fstype, [options])}."""
        out = {}
        for l in self.lines("mount "):
            f = l.split()
            if len(f) >= 4:
                out[f[1]] = (f[0], f[2], f[3].split(","))
        return out

    def stamp(self, regex):
        """Guest time (kernel printk timestamp) of the first console line matching regex."""
        for line in self.console.splitlines():
            if re.search(regex, line):
                m = re.match(r"\s*\[\s*(\d+\.\d+)\]", line)
                if m:
                    return float(m.group(1))
        return None


class Test:
    def __init__(self, args, workdir):
        self.args = args
        self.dir = workdir
        self.disks = []
        self.kernel, self.kver = find_kernel()
        self.name = args.scenario

    # ---- disks -----------------------------------------------------------
    def disk(self, serial, content=b"", size_mib=4, fs=None, files=None, bus="virtio-blk-pci"):
        """Adds a raw disk image with this serial. content: bytes at offset 0;
        fs: 'ext4', 'vfat' or 'iso9660' to make that filesystem (an ISO image
        is as large as its files), files: {name: bytes} put on it.
        bus: 'virtio-blk-pci', 'scsi-hd' (on one virtio-scsi controller) or 'nvme'."""
        if bus not in BUSES:
            raise Failure(f"disk: unknown bus {bus}")
        path = os.path.join(self.dir, f"disk{len(self.disks)}.img")
        with open(path, "wb") as f:
            f.truncate(size_mib * 1024 * 1024)
            if content:
                f.seek(0)
                f.write(content)
        if fs:
            make_fs(path, fs, files or {}, self.dir)
        self.disks.append((path, serial, bus))
        return path

    # ---- boot ------------------------------------------------------------
    def initramfs(self, agent_conf="", modules=DEFAULT_MODULES, busybox=False, append=None, files=()):
        """Builds the guest's initramfs; append: an existing initrd to put first;
        files: (host path, guest path) pairs to add."""
        out = os.path.join(self.dir, "initramfs.img")
        conf = os.path.join(self.dir, "test-agent.conf")
        with open(conf, "w") as f:
            f.write(agent_conf)
        cmd = [self.args.mkinitramfs, "-o", out, "--init", self.args.cocoinit, "--agent", self.args.agent,
               "--kernel-version", self.kver, "--modules", modules, "--file", f"{conf}:/etc/test-agent.conf"]
        if busybox:
            cmd.append("--busybox")
        if append:
            cmd += ["--append", append]
        for src, dest in files:
            cmd += ["--file", f"{src}:{dest}"]
        run(cmd)
        return out

    def boot(self, cmdline, agent_conf="", modules=DEFAULT_MODULES, extra_qemu=(), busybox=False,
             on_console=None, append=None, files=()):
        """Boots once. cmdline: the scenario's kernel parameters (a list);
        on_console(line, qmp): called for each console line while it runs;
        append: an existing initrd the initramfs is appended to."""
        initrd = self.initramfs(agent_conf, modules, busybox, append, files)
        console = os.path.join(self.dir, "console.log")
        report = os.path.join(self.dir, "report.log")
        qmp_path = os.path.join(self.dir, "qmp.sock")
        for p in (console, report, qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        append = " ".join(["console=ttyS0", "panic=-1"] + list(cmdline))
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-smp", "1", "-nodefaults",
               "-display", "none", "-no-reboot", "-monitor", "none",
               "-serial", f"file:{console}", "-serial", f"file:{report}",
               "-qmp", f"unix:{qmp_path},server=on,wait=off",
               "-kernel", self.kernel, "-initrd", initrd, "-append", append]
        if any(bus == "scsi-hd" for _, _, bus in self.disks):
            cmd += ["-device", "virtio-scsi-pci,id=scsi0"]
        for i, (path, serial, bus) in enumerate(self.disks):
            cmd += ["-drive", f"file={path},if=none,id=d{i},format=raw"]
            # QEMU's own option syntax: a comma in a value is written twice.
            ser = f",serial={serial.replace(',', ',,')}" if serial is not None else ""
            where = ",bus=scsi0.0" if bus == "scsi-hd" else ""
            cmd += ["-device", f"{bus}{where},drive=d{i}{ser}"]
        cmd += list(extra_qemu)
        log(f"qemu: {' '.join(cmd)}")
        with boot_slot(self.args.slots):
            start = time.monotonic()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
            seen = 0
            qmp = None
            try:
                while proc.poll() is None:
                    if time.monotonic() - start > QEMU_WALL_LIMIT:
                        proc.kill()
                        proc.wait()
                        raise Failure(f"the guest did not power off within {QEMU_WALL_LIMIT}s wall time\n"
                                      + read(console)[-4000:])
                    if on_console:
                        lines = read(console).splitlines()
                        for line in lines[seen:]:
                            if qmp is None:
                                qmp = Qmp(qmp_path)
                            on_console(line, qmp)
                        seen = len(lines)
                    time.sleep(0.1)
            finally:
                if qmp:
                    qmp.close()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            wall = time.monotonic() - start
        b = Boot(read(console), read(report), proc.returncode, wall)
        log(f"--- console ({wall:.1f}s wall, qemu rc={proc.returncode})\n{b.console}--- agent report\n{b.report}---")
        if proc.returncode != 0:
            raise Failure(f"qemu exited with {proc.returncode}")
        return b


class Qmp:
    """Minimal QMP client for hot-plug (blockdev-add, device_add, ...)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw")
        json.loads(self.f.readline())  # greeting
        self.execute("qmp_capabilities")

    def execute(self, cmd, **arguments):
        self.f.write(json.dumps({"execute": cmd, "arguments": arguments}) + "\n")
        self.f.flush()
        while True:
            msg = json.loads(self.f.readline())
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise Failure(f"qmp {cmd}: {msg['error']}")

    def close(self):
        self.sock.close()


# ---- helpers ---------------------------------------------------------------
def log(msg):
    print(msg, flush=True)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\r", "")
    except FileNotFoundError:
        return ""


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise Failure(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def make_fs(path, fs, files, workdir):
    if fs == "ext4":
        src = tempfile.mkdtemp(dir=workdir)
        for name, data in files.items():
            with open(os.path.join(src, name), "wb") as f:
                f.write(data)
        run(["mkfs.ext4", "-q", "-F", "-d", src, path])
    elif fs == "vfat":
        run(["mkfs.vfat", path])
        for name, data in files.items():
            tmp = os.path.join(workdir, name)
            with open(tmp, "wb") as f:
                f.write(data)
            run(["mcopy", "-i", path, tmp, "::" + name])
    elif fs == "iso9660":
        src = tempfile.mkdtemp(dir=workdir)
        for name, data in files.items():
            with open(os.path.join(src, name), "wb") as f:
                f.write(data)
        # Rock Ridge names and modes; the image replaces the blank disk.
        run(["genisoimage", "-quiet", "-R", "-V", "INITDATA", "-o", path, src])
    else:
        raise Failure(f"make_fs: unknown fs {fs}")


def find_kernel():
    """Debian's kernel and its release: COCOINIT_BOOT_KERNEL, else
    /boot/vmlinuz-$(uname -r), else the newest /boot/vmlinuz-* with modules."""
    env = os.environ.get("COCOINIT_BOOT_KERNEL")
    cands = [env] if env else [f"/boot/vmlinuz-{os.uname().release}"] + sorted(glob.glob("/boot/vmlinuz-*"),
                                                                                reverse=True)
    for k in cands:
        ver = os.path.basename(k)[len("vmlinuz-"):]
        if os.access(k, os.R_OK) and os.path.isfile(f"/lib/modules/{ver}/modules.dep"):
            return k, ver
    return None, None


def no_host_thp():
    """For the QEMU of a benchmark boot (subprocess preexec_fn): no transparent
    huge pages for this process and what it execs (prctl PR_SET_THP_DISABLE).
    QEMU asks for them on guest RAM and on TCG's code buffer; where the host
    grants them on first touch (enabled=madvise, defrag=madvise), a first
    touch of a new 2 MiB of that buffer stalled the guest for about 5 ms in
    the middle of whatever ran, so an init that runs more new code met it
    more often (docs/performance.md, "Host huge pages"). The guest sees
    the same machine either way."""
    import ctypes
    PR_SET_THP_DISABLE = 41
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)


class boot_slot:
    """At most n boots at once across all test processes (flock'd slot files)."""

    def __init__(self, n):
        self.n = n
        self.fd = None

    def __enter__(self):
        d = os.path.join(tempfile.gettempdir(), "cocoinit-boot-slots")
        os.makedirs(d, exist_ok=True)
        while True:
            for i in range(self.n):
                fd = os.open(os.path.join(d, f"slot{i}"), os.O_RDWR | os.O_CREAT, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self.fd = fd
                    return self
                except BlockingIOError:
                    os.close(fd)
            time.sleep(0.2)

    def __exit__(self, *a):
        os.close(self.fd)


def expect(cond, what, boot=None):
    if not cond:
        raise Failure(what)


def expect_console(b, regex):
    if not re.search(regex, b.console, re.M):
        raise Failure(f"console has no line matching {regex!r}")


def expect_not_console(b, regex):
    m = re.search(regex, b.console, re.M)
    if m:
        raise Failure(f"console unexpectedly has {m.group(0)!r}")


def expect_powered_off_by_cocoinit(b, policy="poweroff"):
    expect_console(b, rf"cocoinit: on_error: {policy}$")
    expect_console(b, r"reboot: Power down")


# ---- scenarios -------------------------------------------------------------
TOML = b'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"policy.rego" = "package agent_policy"\n'


def scenario_found_among_six(t):
    """The initdata disk is one of six virtio disks: found via sysfs, consumed,
    handed to the agent as PID 1 with the listeners at fds 3 and 4."""
    for i, s in enumerate(["vol-a", "vol-b", "initdata", "image-0123456789abcdef", "vol e", "scratch"]):
        t.disk(s, kata_raw(TOML) if s == "initdata" else b"")
    b = t.boot(["cocoinit.initdata=required", "cocoinit.passfd=1", "cocoinit.vsock_listen=1025:log",
                "cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: initdata: found /dev/vd[a-f] via sysfs serial=initdata in \d+us$")
    expect_console(b, r"cocoinit: listen: vsock port=1027 name=passfd fd=3$")
    expect_console(b, r"cocoinit: listen: vsock port=1025 name=log fd=4$")
    expect_console(b, r"cocoinit: timing: mounts=\d+ modules=\d+ listen=\d+ discover=\d+ consume=\d+ extensions=\d+ "
                      r"total=\d+ boot=\d+$")
    expect_console(b, r"cocoinit: handoff: exec /usr/bin/kata-agent listen_fds=2$")
    expect(b.agent_ran(), "the agent did not run")
    expect("start pid=1 argv0=/usr/bin/kata-agent" in b.agent, f"the agent is not PID 1: {b.agent[:1]}")
    env = b.env()
    dev = env.get("COCOINIT_INITDATA_DEVICE")
    serials = dict(l.split(" ", 1) for l in b.lines("serial "))
    expect(dev and serials.get(dev) == "initdata", f"COCOINIT_INITDATA_DEVICE={dev}, serials {serials}")
    expect(f"cocoinit: initdata: found {dev} via sysfs" in b.console, "found line names another device")
    expect(env.get("COCOINIT_INITDATA_FORMAT") == "kata-raw", f"format {env.get('COCOINIT_INITDATA_FORMAT')}")
    expect(env.get("COCOINIT_INITDATA_METHOD") == "sysfs", "method")
    expect(env.get("COCOINIT_INITDATA_DIR") == "/run/confidential-containers/initdata", "dir")
    expect(env.get("LISTEN_FDS") == "2" and env.get("LISTEN_PID") == "1" and
           env.get("LISTEN_FDNAMES") == "passfd:log", f"LISTEN_* {env}")
    expect("LISTEN_PIDFDID" not in env, "LISTEN_PIDFDID set")
    got_toml = "\n".join(b.lines("initdata ")) + "\n"
    expect(got_toml == TOML.decode(), f"initdata.toml differs: {got_toml!r}")
    # Exactly fds 0-3-4 above the console: the listeners, nothing else.
    fds = {int(l.split()[0]): l for l in b.lines("fd ")}
    expect(sorted(fds) == [0, 1, 2, 3, 4], f"agent fds {fds}")
    expect(fds[3].split()[1].startswith("socket:") and "cloexec=0" in fds[3], fds[3])
    expect("listener passfd fd=3 port=1027 accepted" in b.agent, "passfd listener does not accept")
    expect("listener log fd=4 port=1025 accepted" in b.agent, "log listener does not accept")
    # stdio on /dev/console (5:1): the kernel's built-in initramfs provided it.
    expect("stdio 0 chr 5:1" in b.agent and "stdio 2 chr 5:1" in b.agent, "stdio is not /dev/console")
    expect("status SigBlk:\t0000000000000000" in b.agent, "signal mask not empty")
    expect("status SigIgn:\t0000000000000000" in b.agent, "signals ignored")
    mounts = {l.split()[1]: l for l in b.lines("mount ")}
    for target, fstype in [("/proc", "proc"), ("/sys", "sysfs"), ("/dev", "devtmpfs"), ("/dev/pts", "devpts"),
                           ("/dev/shm", "tmpfs"), ("/run", "tmpfs"),
                           ("/run/confidential-containers/initdata", "tmpfs")]:
        expect(target in mounts and mounts[target].split()[2] == fstype, f"mount {target}: {mounts.get(target)}")
    expect("nosuid" in mounts["/run"].split()[3], "/run lacks nosuid")
    st = b.state()
    expect(st["version"] == 1 and st["initdata"]["found"] is True and st["initdata"]["device"] == dev, st)
    expect([l["name"] for l in st["listeners"]] == ["passfd", "log"], st["listeners"])
    expect(st["errors"] == [], st["errors"])
    expect(st["resources"]["cpus_online"] == 1 and st["resources"]["mem_total_kib"] > 0, st["resources"])
    log("timing line: " + re.search(r"cocoinit: timing: .*", b.console).group(0))


def scenario_required_missing(t):
    """A required disk that never comes: fatal after the timeout, the agent
    never runs, the VM powers off."""
    t.disk("vol-a")
    t.disk("vol-b")
    b = t.boot(["cocoinit.initdata=required", "cocoinit.initdata_serial=nosuch",
                "cocoinit.initdata_timeout_ms=2000", "cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: initdata: not found serial=nosuch$")
    expect_console(b, r"cocoinit: fatal: initdata: .*nosuch")
    expect_powered_off_by_cocoinit(b)
    expect(not b.agent_ran(), "the agent ran")
    first = b.stamp(r"Run /init as init process")
    nf = b.stamp(r"cocoinit: initdata: not found")
    down = b.stamp(r"reboot: Power down")
    expect(None not in (first, nf, down), f"timestamps {first} {nf} {down}")
    expect(nf - first >= 1.9, f"gave up after {nf - first:.2f}s of guest time, before the 2 s timeout")
    expect(down - first <= 2 + 10, f"powered off {down - first:.2f}s of guest time after /init started")


def scenario_supervise_orphan(t):
    """Supervise mode: the agent is a child of PID 1, gets LISTEN_PID=its pid,
    leaves an orphan that PID 1 reaps; its exit powers the VM off."""
    t.disk("initdata", kata_raw(TOML))
    b = t.boot(["cocoinit.agent_mode=supervise", "cocoinit.passfd=1", "cocoinit.modules=" + DEFAULT_MODULES],
               agent_conf="orphan=1\nexit=7\n")
    expect_console(b, r"cocoinit: handoff: supervise /usr/bin/kata-agent listen_fds=1$")
    start = b.lines("start pid=")
    expect(start, "the agent did not run")
    pid = int(start[0].split()[0])
    expect(pid != 1, "the agent is PID 1 in supervise mode")
    env = b.env()
    expect(env.get("LISTEN_PID") == str(pid), f"LISTEN_PID={env.get('LISTEN_PID')} for agent pid {pid}")
    expect("status PPid:\t1" in b.agent, "the agent's parent is not PID 1")
    expect("listener passfd fd=3 port=1027 accepted" in b.agent, "passfd listener")
    reaped = [l for l in b.agent if l.startswith("orphan ")]
    expect(reaped and reaped[0].startswith("orphan reaped pid="), f"orphan: {reaped}")
    expect_console(b, r"cocoinit: agent: exited status=7$")
    expect_powered_off_by_cocoinit(b)


def scenario_malformed_value(t):
    """A malformed value is fatal and the message names the key."""
    b = t.boot(["cocoinit.initdata_timeout_ms=abc", "cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: fatal: cmdline: .*cocoinit\.initdata_timeout_ms")
    expect_powered_off_by_cocoinit(b)
    expect(not b.agent_ran(), "the agent ran")


def scenario_on_error_continue(t):
    """on_error=continue: a missing required disk is recorded in state.json
    and the agent starts anyway, without COCOINIT_INITDATA_*."""
    t.disk("vol-a")
    b = t.boot(["cocoinit.initdata_serial=absent", "cocoinit.initdata_timeout_ms=500", "cocoinit.on_error=continue",
                "cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: fatal: initdata: .*absent")
    expect_console(b, r"cocoinit: on_error: continue$")
    expect_console(b, r"cocoinit: handoff: exec /usr/bin/kata-agent listen_fds=0$")
    expect("start pid=1 argv0=/usr/bin/kata-agent" in b.agent, "the agent did not run as PID 1")
    env = b.env()
    expect(not any(k.startswith("COCOINIT_INITDATA_") or k.startswith("LISTEN_") for k in env), env)
    st = b.state()
    expect(st["initdata"]["found"] is False and st["initdata"]["mode"] == "required", st["initdata"])
    expect(len(st["errors"]) == 1 and "absent" in st["errors"][0], st["errors"])


def scenario_ambiguous(t):
    """Two disks with the initdata serial: an error naming both, never a pick."""
    t.disk("vol-a")
    t.disk("initdata", kata_raw(TOML))
    t.disk("initdata", kata_raw(TOML))
    b = t.boot(["cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: initdata: ambiguous serial=initdata devices=/dev/vd[a-c],/dev/vd[a-c]$")
    expect_powered_off_by_cocoinit(b)
    expect(not b.agent_ran(), "the agent ran")


def scenario_hotplug_uevent(t):
    """The disk arrives while cocoinit waits: found via a uevent."""
    t.disk("vol-a")
    img = os.path.join(t.dir, "hot.img")
    with open(img, "wb") as f:
        f.write(kata_raw(TOML))
        f.truncate(1024 * 1024)
    plugged = []

    def plug(line, qmp):
        # cocoinit's first line means it runs; the disk comes after the scan.
        if not plugged and "cocoinit: listen:" in line:
            qmp.execute("blockdev-add", **{"node-name": "hot", "driver": "raw",
                                           "file": {"driver": "file", "filename": img}})
            qmp.execute("device_add", driver="virtio-blk-pci", drive="hot", serial="late-initdata", id="hot0")
            plugged.append(True)

    b = t.boot(["cocoinit.initdata_serial=late-initdata", "cocoinit.initdata_timeout_ms=20000",
                "cocoinit.passfd=1", "cocoinit.modules=" + DEFAULT_MODULES], on_console=plug)
    expect(plugged, "the disk was never plugged")
    expect_console(b, r"cocoinit: initdata: found /dev/vd[b-z] via uevent serial=late-initdata in \d+us$")
    expect(b.env().get("COCOINIT_INITDATA_METHOD") == "uevent", "method")
    expect(b.agent_ran(), "the agent did not run")


def scenario_on_error_reboot(t):
    """on_error=reboot: the failure reboots (QEMU's -no-reboot makes that an exit)."""
    b = t.boot(["cocoinit.initdata_serial=absent", "cocoinit.initdata_timeout_ms=200", "cocoinit.on_error=reboot",
                "cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: fatal: initdata: .*absent")
    expect_console(b, r"cocoinit: on_error: reboot$")
    expect_console(b, r"reboot: Restarting system")
    expect(not b.agent_ran(), "the agent ran")


def scenario_agent_missing(t):
    """An agent that can't be executed is fatal, not a kernel panic."""
    b = t.boot(["cocoinit.initdata=off", "cocoinit.agent=/usr/bin/no-such-agent",
                "cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: fatal: handoff: exec /usr/bin/no-such-agent: No such file or directory$")
    expect_powered_off_by_cocoinit(b)
    expect_not_console(b, r"Kernel panic")



def scenario_on_error_shell_without_sh(t):
    """auto mode with no initdata disk looks once and goes on; then the agent
    can't be executed, and on_error=shell in an initramfs without /bin/sh
    powers off rather than leaving PID 1 to exit (a kernel panic)."""
    t.disk("vol-a")
    b = t.boot(["cocoinit.on_error=shell", "cocoinit.agent=/usr/bin/no-such-agent",
                "cocoinit.modules=" + DEFAULT_MODULES])
    expect_console(b, r"cocoinit: initdata: not found serial=initdata$")
    expect_not_console(b, r"cocoinit: fatal: initdata")
    expect_console(b, r"cocoinit: fatal: handoff: exec /usr/bin/no-such-agent: No such file or directory$")
    expect_console(b, r"cocoinit: on_error: shell: no /bin/sh, powering off$")
    expect_powered_off_by_cocoinit(b)
    expect_not_console(b, r"Kernel panic")

def scenario_on_error_shell(t):
    """on_error=shell with a /bin/sh in the initramfs: after the fatal line,
    PID 1 becomes /bin/sh on the console (here the test agent stands in for
    the shell, so it can report what it was started as), not a power-off."""
    b = t.boot(["cocoinit.on_error=shell", "cocoinit.initdata_timeout_ms=abc"],
               files=[(t.args.agent, "/bin/sh")])
    expect_console(b, r'cocoinit: fatal: cmdline: cocoinit\.initdata_timeout_ms: "abc" is not a number$')
    expect_console(b, r"cocoinit: on_error: shell$")
    expect_not_console(b, r"no /bin/sh")
    expect("start pid=1 argv0=/bin/sh" in b.agent, f"/bin/sh did not start as PID 1: {b.agent[:3]}")
    env = b.env()
    expect("COCOINIT_INITDATA_DEVICE" not in env and "LISTEN_FDS" not in env, f"the shell got hand-off state: {env}")
    expect_not_console(b, r"Kernel panic")


def vsock_echo_ok(b, name, port, fd):
    """The agent's passfd round trip on one listener (test-agent's
    vsock_passfd_echo): the child's connect() returned before any accept,
    the acceptor found the stream under the child's port, the payload went
    both ways."""
    lines = b.lines(f"vsock-echo {name} ")
    m = [re.fullmatch(rf"fd={fd} port={port} child-connected local_port=(\d+) before-accept", l) for l in lines]
    m = [x for x in m if x]
    expect(len(m) == 1, f"{name}: the child's connect to CID 1 port {port} did not wait in the backlog: {lines}")
    local = int(m[0].group(1))
    expect(f"stream peer_port={local} peer_cid=1" in lines,
           f"{name}: the acceptor's stream for port {local} is not the child's: {lines}")
    expect(any(re.fullmatch(r"echoed \d+ bytes", l) for l in lines), f"{name}: no echo: {lines}")
    expect(f"child local_port={local} echo-ok" in lines, f"{name}: the child did not get its payload back: {lines}")
    expect("child exit=0" in lines, f"{name}: child {lines}")


def scenario_vsock_passfd(t):
    """cocoinit.passfd=1 and a vsock_listen entry: the agent takes both
    listeners by name; connections made before it accepts wait in the backlog
    and reach it under their peer port. Without cocoinit.passfd nothing
    listens on the passfd port."""
    conf = "vsock_passfd_echo=passfd:1027,debug:1030\n"
    b = t.boot(["cocoinit.initdata=off", "cocoinit.passfd=1", "agent.passfd_listener_port=1027",
                "cocoinit.vsock_listen=1030:debug", "cocoinit.modules=" + DEFAULT_MODULES], agent_conf=conf)
    expect_console(b, r"cocoinit: listen: vsock port=1027 name=passfd fd=3$")
    expect_console(b, r"cocoinit: listen: vsock port=1030 name=debug fd=4$")
    expect_console(b, r"cocoinit: handoff: exec /usr/bin/kata-agent listen_fds=2$")
    expect("start pid=1 argv0=/usr/bin/kata-agent" in b.agent, "the agent did not run as PID 1")
    env = b.env()
    expect(env.get("LISTEN_FDS") == "2" and env.get("LISTEN_PID") == "1" and
           env.get("LISTEN_FDNAMES") == "passfd:debug", f"LISTEN_* {env}")
    vsock_echo_ok(b, "passfd", 1027, 3)
    vsock_echo_ok(b, "debug", 1030, 4)
    # The listeners still accept afterwards (report_listeners runs later).
    expect("listener passfd fd=3 port=1027 accepted" in b.agent, "passfd listener after the echo")
    expect("listener debug fd=4 port=1030 accepted" in b.agent, "debug listener after the echo")

    log(f"first boot: {b.wall:.1f}s wall")
    b = t.boot(["cocoinit.initdata=off", "agent.passfd_listener_port=1027", "cocoinit.vsock_listen=1030:debug",
                "cocoinit.modules=" + DEFAULT_MODULES], agent_conf=conf)
    expect_not_console(b, r"cocoinit: listen: .*name=passfd")
    expect_console(b, r"cocoinit: listen: vsock port=1030 name=debug fd=3$")
    expect_console(b, r"cocoinit: handoff: exec /usr/bin/kata-agent listen_fds=1$")
    env = b.env()
    expect(env.get("LISTEN_FDS") == "1" and env.get("LISTEN_FDNAMES") == "debug", f"LISTEN_* {env}")
    lines = b.lines("vsock-echo passfd ")
    expect("take-failed No such file or directory" in lines, f"passfd taken without cocoinit.passfd: {lines}")
    refused = [l for l in lines if l.startswith("port=1027 unbound ")]
    expect(len(refused) == 1 and re.fullmatch(r"port=1027 unbound connect-failed "
                                              r"(Connection reset by peer|Connection refused)", refused[0]),
           f"something listens on 1027 without cocoinit.passfd: {lines}")
    vsock_echo_ok(b, "debug", 1030, 3)


# ---- initdata formats, hostile images, other buses, shares, the tool ----
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def example_toml():
    with open(os.path.join(SRCDIR, "docs", "examples", "initdata.toml"), "rb") as f:
        return f.read()


def raw_image(gz: bytes, length=None) -> bytes:
    """A raw-format header over any payload (hostile ones included); length
    defaults to the payload's own."""
    return b"initdata" + struct.pack("<Q", len(gz) if length is None else length) + gz


def gzip_zeros(n: int) -> bytes:
    """One gzip member holding n zero bytes, compressed in chunks."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    out = []
    for _ in range(n // len(chunk)):
        out.append(c.compress(chunk))
    out.append(c.compress(b"\0" * (n % len(chunk))))
    out.append(c.flush())
    return b"".join(out)


def expect_initdata_file(b, want: bytes, mode="0400"):
    """initdata.toml in the agent's view: these exact bytes, this mode, root's."""
    path = INITDATA_DIR + "/initdata.toml"
    f = b.files().get(path)
    expect(f and "missing" not in f, f"the agent found no {path}: {f}")
    expect(f["sha256"] == sha256(want) and int(f["size"]) == len(want),
           f"{path}: sha256={f['sha256']} size={f['size']}, the host's sha256={sha256(want)} size={len(want)}")
    if mode is not None:
        expect(f["mode"] == mode and f["uid"] == "0", f"{path}: mode={f['mode']} uid={f['uid']}, want {mode} root")


def expect_found(b, regex_dev, serial, methods=("sysfs",), agent=True):
    """The console's "found" line; with agent, the agent's COCOINIT_INITDATA_*
    name the same device and method. Returns the device."""
    m = re.search(rf"cocoinit: initdata: found ({regex_dev}) via (\S+) serial={re.escape(serial)} in \d+us$",
                  b.console, re.M)
    expect(m, f"console has no 'found {regex_dev} ... serial={serial}' line")
    dev, method = m.group(1), m.group(2)
    expect(method in methods, f"found via {method}, expected one of {methods}")
    if not agent:
        return dev
    env = b.env()
    expect(env.get("COCOINIT_INITDATA_DEVICE") == dev, f"COCOINIT_INITDATA_DEVICE={env.get('COCOINIT_INITDATA_DEVICE')}, "
                                                       f"console says {dev}")
    expect(env.get("COCOINIT_INITDATA_METHOD") == method, f"COCOINIT_INITDATA_METHOD={env.get('COCOINIT_INITDATA_METHOD')}")
    return dev


def scenario_raw_format(t):
    """The Kata raw format made by initramfs/mkinitdata from the example TOML,
    among decoys (one of them another valid raw image): the agent gets that
    TOML byte for byte, mode 0400, on a private tmpfs with the three files
    made from its [data]."""
    toml = example_toml()
    img = os.path.join(t.dir, "initdata.img")
    run([os.path.join(SRCDIR, "initramfs", "mkinitdata"), "--cocoinit", t.args.cocoinit,
         os.path.join(SRCDIR, "docs", "examples", "initdata.toml"),
         img])
    with open(img, "rb") as f:
        raw = f.read()
    expect(raw[:8] == b"initdata" and len(raw) % 512 == 0, "mkinitdata wrote no raw-format image")
    t.disk("vol-a")
    t.disk("initdata-old", kata_raw(b'version = "0.1.0"\n# a stale document\n'))
    t.disk("initdata", raw)
    t.disk("scratch", fs="ext4", files={"initdata.toml": b"not this one\n"})
    # No cocoinit.initdata key: the default serial in auto mode.
    b = t.boot(["cocoinit.modules=" + DEFAULT_MODULES])
    dev = expect_found(b, r"/dev/vd[a-d]", "initdata")
    serials = dict(l.split(" ", 1) for l in b.lines("serial "))
    expect(serials.get(dev) == "initdata", f"{dev} has serial {serials.get(dev)!r}")
    expect(b.env().get("COCOINIT_INITDATA_FORMAT") == "kata-raw", f"format {b.env()}")
    expect_initdata_file(b, toml)
    dirline = [l for l in b.lines("dir ") if l.startswith(INITDATA_DIR + " ")]
    expect(dirline and "mode=0700 uid=0" in dirline[0], f"the initdata directory: {dirline}")
    entries = sorted(l.split(" ", 1)[1] for l in b.lines("dirent ") if l.startswith(INITDATA_DIR + " "))
    expect(entries == ["aa.toml", "cdh.toml", "initdata.toml", "policy.rego"], f"the initdata directory holds {entries}")
    mnt = b.mounts().get(INITDATA_DIR)
    expect(mnt and mnt[1] == "tmpfs", f"{INITDATA_DIR} is not a tmpfs: {mnt}")
    for opt in ("rw", "nosuid", "nodev", "noexec", "mode=700"):
        expect(opt in mnt[2], f"{INITDATA_DIR} mount lacks {opt}: {','.join(mnt[2])}")
    st = b.state()["initdata"]
    expect(st["format"] == "kata-raw" and st["dir"] == INITDATA_DIR and st["device"] == dev and
           st["mode"] == "auto", st)
    expect(b.agent_ran() and "start pid=1 argv0=/usr/bin/kata-agent" in b.agent, "the agent did not run as PID 1")


# Debian's FAT defaults are codepage 437 and iocharset ascii; without those
# nls modules the mount fails with EINVAL ("IO charset ascii not found"),
# and no modprobe is there to load them on demand.
FS_MODULES = {"iso9660": "isofs", "vfat": "vfat,nls_cp437,nls_ascii"}


def initdata_filesystem(t, fs):
    """An initdata disk holding a filesystem: mounted read-only with
    nosuid,nodev,noexec at /run/cocoinit/initdata-fs, its initdata.toml
    copied (mode 0400) onto the tmpfs at the initdata directory, the layout
    the raw format gives. A decoy of the same type with another serial holds
    another document."""
    toml = example_toml()
    fsdir = "/run/cocoinit/initdata-fs"
    t.disk("initdata-decoy", fs=fs, files={"initdata.toml": b'version = "0.1.0"\n# decoy\n'}, size_mib=2)
    t.disk("vol-b", kata_raw(TOML))
    t.disk("initdata", fs=fs, files={"initdata.toml": toml, "extra.txt": b"second file\n"}, size_mib=2)
    mods = DEFAULT_MODULES + "," + FS_MODULES[fs]
    b = t.boot(["cocoinit.modules=" + mods], modules=mods, agent_conf=f"file={fsdir}/extra.txt\n")
    dev = expect_found(b, r"/dev/vd[a-c]", "initdata")
    serials = dict(l.split(" ", 1) for l in b.lines("serial "))
    expect(serials.get(dev) == "initdata", f"{dev} has serial {serials.get(dev)!r}")
    env = b.env()
    expect(env.get("COCOINIT_INITDATA_FORMAT") == fs, f"COCOINIT_INITDATA_FORMAT={env.get('COCOINIT_INITDATA_FORMAT')}")
    mounts = b.mounts()
    mnt = mounts.get(fsdir)
    # Mounted through a private node of the device whose serial was checked.
    node = "/dev/cocoinit/" + dev[len("/dev/"):]
    expect(mnt and mnt[0] == node and mnt[1] == fs, f"{fsdir}: {mnt}, want {node} {fs}")
    for opt in ("ro", "nosuid", "nodev", "noexec"):
        expect(opt in mnt[2], f"{fsdir} mount lacks {opt}: {','.join(mnt[2])}")
    tm = mounts.get(INITDATA_DIR)
    expect(tm and tm[1] == "tmpfs", f"{INITDATA_DIR}: {tm}, want the tmpfs the raw format gets too")
    expect_initdata_file(b, toml)
    extra = b.files().get(fsdir + "/extra.txt")
    expect(extra and extra.get("sha256") == sha256(b"second file\n"), f"extra.txt: {extra}")
    st = b.state()["initdata"]
    expect(st["format"] == fs and st["device"] == dev and st["dir"] == INITDATA_DIR, st)


def scenario_initdata_iso9660(t):
    """An ISO 9660 initdata disk (isofs, a module in Debian's kernel)."""
    initdata_filesystem(t, "iso9660")


def scenario_initdata_vfat(t):
    """A FAT initdata disk (vfat with its code page and charset modules)."""
    initdata_filesystem(t, "vfat")


def hostile_raw(t, content, reason, cmdline=(), size_mib=4):
    """A hostile raw image is fatal: the reason on the console, no agent,
    power off, and nothing that looks like memory running out."""
    t.disk("vol-a")
    t.disk("initdata", content, size_mib=size_mib)
    b = t.boot(["cocoinit.modules=" + DEFAULT_MODULES] + list(cmdline))
    expect_found(b, r"/dev/vd[ab]", "initdata", agent=False)
    expect_console(b, r"cocoinit: fatal: initdata: /dev/vd[ab]: " + reason)
    expect_powered_off_by_cocoinit(b)
    expect(not b.agent_ran(), "the agent ran")
    expect_not_console(b, r"Out of memory|oom-kill|invoked oom-killer|Kernel panic|segfault|general protection")
    return b


def scenario_raw_gzip_bomb(t):
    """1 MiB of zeros in about 1 KiB of gzip, with initdata_max_bytes=4096:
    the payload passes the length bound but expands past 4 x 4096."""
    gz = gzip_zeros(1 << 20)
    expect(len(gz) <= 4096, f"the bomb is {len(gz)} bytes of gzip")
    hostile_raw(t, raw_image(gz), r"initdata decompresses to more than 16384 bytes$",
                ["cocoinit.initdata_max_bytes=4096"])


def scenario_raw_gzip_bomb_512m(t):
    """512 MiB of zeros (about 500 KiB of gzip, under the default 1 MiB
    bound) in a 512 MiB guest: refused at 4 MiB, the guest stays alive."""
    gz = gzip_zeros(512 << 20)
    expect(len(gz) <= 1 << 20, f"the bomb is {len(gz)} bytes of gzip")
    hostile_raw(t, raw_image(gz), r"initdata decompresses to more than 4194304 bytes$")


def scenario_raw_length_beyond_disk(t):
    """A length field one byte past the end of a 1 MiB disk (and under the
    1 MiB bound, so only the device check can refuse it)."""
    size = 1 << 20
    gz = gzip.compress(TOML, mtime=0)
    hostile_raw(t, raw_image(gz, length=size - 16 + 1),
                rf"initdata length {size - 15} is beyond the device \({size} bytes\)$", size_mib=1)


def scenario_raw_truncated_gzip(t):
    """A gzip stream cut in the middle, its length field telling the truth
    about the cut: refused as truncated, nothing extracted."""
    gz = gzip.compress(example_toml(), mtime=0)
    cut = gz[:len(gz) // 2]
    hostile_raw(t, raw_image(cut), r"initdata gzip stream is truncated$")


SCSI_MODULES = DEFAULT_MODULES + ",virtio_scsi,sd_mod"
NVME_MODULES = DEFAULT_MODULES + ",nvme"


def scenario_scsi_serial(t):
    """A virtio-scsi disk found by its serial (VPD page 0x80), among SCSI
    and virtio-blk decoys, one of them a raw image whose serial only begins
    with the wanted one."""
    serial = "coco-initdata"
    t.disk("vol-a")
    t.disk("scsi-data", bus="scsi-hd")
    t.disk(serial + "-2", kata_raw(b'version = "0.1.0"\n# decoy\n'), bus="scsi-hd")
    t.disk(serial, kata_raw(TOML), bus="scsi-hd")
    # sd probes asynchronously: required mode waits for it if the scan is early.
    b = t.boot(["cocoinit.initdata_serial=" + serial, "cocoinit.initdata_timeout_ms=10000",
                "cocoinit.modules=" + SCSI_MODULES], modules=SCSI_MODULES)
    dev = expect_found(b, r"/dev/sd[a-c]", serial, methods=("sysfs", "uevent"))
    scsi = dict(l.split(" ", 1) for l in b.lines("scsi-serial "))
    expect(len(scsi) == 3, f"the guest sees SCSI serials {scsi}")
    expect(scsi.get(dev, "").rstrip(" ") == serial, f"{dev} has VPD serial {scsi.get(dev)!r}")
    expect(b.env().get("COCOINIT_INITDATA_FORMAT") == "kata-raw", "format")
    expect_initdata_file(b, TOML)
    expect(b.state()["initdata"]["device"] == dev, b.state()["initdata"])


def scenario_nvme_serial(t):
    """An NVMe disk found by its serial, which the controller pads to 20
    bytes with spaces, among NVMe decoys (one whose serial extends the
    wanted one) and a virtio-blk decoy."""
    serial = "nvme-initdata"
    t.disk("vol-a")
    t.disk("nvme-data", bus="nvme")
    t.disk(serial + "-x", kata_raw(b'version = "0.1.0"\n# decoy\n'), bus="nvme")
    t.disk(serial, kata_raw(TOML), bus="nvme")
    b = t.boot(["cocoinit.initdata_serial=" + serial, "cocoinit.initdata_timeout_ms=10000",
                "cocoinit.modules=" + NVME_MODULES], modules=NVME_MODULES)
    dev = expect_found(b, r"/dev/nvme\d+n1", serial, methods=("sysfs", "uevent"))
    nvme = dict(l.split(" ", 1) for l in b.lines("nvme-serial "))
    expect(len(nvme) == 3, f"the guest sees NVMe serials {nvme}")
    # The padding is real: what cocoinit had to trim.
    expect(nvme.get(dev) == serial.ljust(20), f"{dev} has serial {nvme.get(dev)!r}")
    expect(b.env().get("COCOINIT_INITDATA_FORMAT") == "kata-raw", "format")
    expect_initdata_file(b, TOML)
    expect(b.state()["initdata"]["device"] == dev, b.state()["initdata"])


def scenario_share_9p(t):
    """cocoinit.mount: a 9p share over virtio (nosuid,nodev added) and a
    tmpfs that opts out of nosuid; the agent reads a file from the share,
    and state.json records both mounts."""
    share = os.path.join(t.dir, "share")
    os.makedirs(share)
    hello = b"shared from the host\nsecond line\n"
    with open(os.path.join(share, "hello.txt"), "wb") as f:
        f.write(hello)
    mods = DEFAULT_MODULES + ",9p,9pnet_virtio"
    t.disk("initdata", kata_raw(TOML))
    b = t.boot(["cocoinit.modules=" + mods,
                "cocoinit.mount=9p:share0:/mnt/share:trans=virtio,version=9p2000.L",
                "cocoinit.mount=tmpfs:scratch:/run/scratch:size=1m,suid"],
               modules=mods, agent_conf="file=/mnt/share/hello.txt\n",
               extra_qemu=["-virtfs", f"local,path={share},mount_tag=share0,security_model=none,id=fs0"])
    expect(b.agent_ran(), "the agent did not run")
    f = b.files().get("/mnt/share/hello.txt")
    expect(f and f.get("sha256") == sha256(hello), f"/mnt/share/hello.txt in the guest: {f}")
    expect(b.filedata("/mnt/share/hello.txt") == hello.decode().rstrip("\n"), "hello.txt's lines")
    mounts = b.mounts()
    m = mounts.get("/mnt/share")
    expect(m and m[0] == "share0" and m[1] == "9p", f"/mnt/share: {m}")
    for opt in ("rw", "nosuid", "nodev", "trans=virtio"):
        expect(opt in m[2], f"/mnt/share lacks {opt}: {','.join(m[2])}")
    s = mounts.get("/run/scratch")
    expect(s and s[1] == "tmpfs" and "nodev" in s[2] and "nosuid" not in s[2] and "size=1024k" in s[2],
           f"/run/scratch: {s}")
    st = {m["target"]: m for m in b.state()["mounts"]}
    expect("/mnt/share" in st and st["/mnt/share"]["type"] == "9p" and st["/mnt/share"]["source"] == "share0",
           f"state.json mounts: {list(st)}")
    expect({"nosuid", "nodev"} <= set(st["/mnt/share"]["options"].split(",")), st["/mnt/share"])
    expect("/run/scratch" in st, f"state.json mounts: {list(st)}")
    expect(b.state()["errors"] == [], b.state()["errors"])
    expect_initdata_file(b, TOML)


def scenario_mkinitramfs_append(t):
    """initramfs/mkinitramfs --append: cocoinit's archive after an existing
    initrd (Debian's own when readable, else one mkinitramfs makes with the
    test agent as its /init; COCOINIT_BOOT_INITRD=PATH picks another, =none
    forces the made one): the kernel unpacks both, cocoinit's /init wins."""
    base = os.environ.get("COCOINIT_BOOT_INITRD", f"/boot/initrd.img-{t.kver}")
    if base == "none" or not os.access(base, os.R_OK):
        base = os.path.join(t.dir, "base.img")
        mpath = os.path.join(t.dir, "marker")
        with open(mpath, "wb") as f:
            f.write(b"from the base archive\n")
        run([t.args.mkinitramfs, "-o", base, "--init", t.args.agent, "--file", f"{mpath}:/etc/base-marker"])
        marker = "/etc/base-marker"
    else:
        marker = "/conf/initramfs.conf"  # initramfs-tools' own file
    t.disk("initdata", kata_raw(TOML))
    b = t.boot(["cocoinit.modules=" + DEFAULT_MODULES], agent_conf=f"file={marker}\n", append=base)
    with open(os.path.join(t.dir, "initramfs.img"), "rb") as f, open(base, "rb") as g:
        head = f.read(os.path.getsize(base))
        expect(head == g.read(), "the output does not begin with the existing initrd")
    expect_console(b, r"cocoinit: handoff: exec /usr/bin/kata-agent listen_fds=0$")
    expect("start pid=1 argv0=/usr/bin/kata-agent" in b.agent, f"the agent is not PID 1: {b.agent[:1]}")
    # initramfs-tools' /init or the made base's (the test agent as /init).
    expect_not_console(b, r"Loading, please wait|Begin: ")
    expect(not any(l.startswith("start ") and "argv0=/init" in l for l in b.agent), "the base's /init ran")
    f = b.files().get(marker)
    expect(f and "missing" not in f, f"{marker} from the base archive is missing in the guest: {f}")
    expect_initdata_file(b, TOML)


def scenario_mkinitramfs_refuses_dynamic(t):
    """mkinitramfs refuses a dynamically linked agent or init without its
    libraries (a clear error, non-zero exit, no archive), and with
    --agent-libs takes the interpreter and libraries along."""
    dyn = shutil.which("true") or "/bin/true"
    r = subprocess.run(["readelf", "-lW", dyn], capture_output=True, text=True)
    m = re.search(r"Requesting program interpreter: (\S+)\]", r.stdout)
    expect(m, f"{dyn} is not dynamically linked here")
    interp = m.group(1)
    out = os.path.join(t.dir, "out.img")
    for args, what in ((["--init", t.args.cocoinit, "--agent", dyn], "--agent"),
                       (["--init", dyn], "--init")):
        r = subprocess.run([t.args.mkinitramfs, "-o", out] + args, capture_output=True, text=True)
        log(f"mkinitramfs {' '.join(args)}: rc={r.returncode} stderr={r.stderr.strip()}")
        expect(r.returncode != 0, f"mkinitramfs accepted a dynamically linked {what}")
        expect(re.search(rf"^mkinitramfs: error: {re.escape(what)} '{re.escape(dyn)}' is dynamically linked "
                         rf"\(interpreter {re.escape(interp)}\)", r.stderr, re.M),
               f"unclear error for a dynamic {what}: {r.stderr.strip()!r}")
        expect(not os.path.exists(out) and not glob.glob(out + ".tmp.*"), "mkinitramfs left an archive behind")
    run([t.args.mkinitramfs, "-o", out, "--init", t.args.cocoinit, "--agent", dyn, "--agent-libs"])
    names = subprocess.run(f"gzip -dc {out} | cpio -t --quiet", shell=True, capture_output=True, text=True,
                           check=True).stdout.split()
    expect("usr/bin/kata-agent" in names and "init" in names, f"archive: {names}")
    expect(interp.lstrip("/") in names, f"the interpreter {interp} is not in the archive")
    libc = [n for n in names if re.search(r"/libc\.so\.\d+$", n)]
    expect(libc, f"libc is not in the archive: {names}")


NO_BOOT = {"mkinitramfs_refuses_dynamic"}

# Scenarios of one area each live in tests/boot/scenarios_<area>.py, run in
# this module's namespace (they use its helpers and may add to NO_BOOT).
for _path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios_*.py"))):
    with open(_path) as _f:
        exec(compile(_f.read(), _path, "exec"), globals())

SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--cocoinit", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--mkinitramfs", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--slots", type=int, default=min(BOOT_SLOTS, os.cpu_count() or 1))
    args = ap.parse_args()
    require = os.environ.get("COCOINIT_REQUIRE_BOOT") == "1"

    missing = []
    if args.scenario not in NO_BOOT and not shutil.which("qemu-system-x86_64"):
        missing.append("qemu-system-x86_64 (package qemu-system-x86)")
    if args.scenario not in NO_BOOT and find_kernel()[0] is None:
        missing.append("a kernel /boot/vmlinuz-* with /lib/modules/<release> (package linux-image-amd64)")
    for tool in ("cpio", "readelf", "gzip"):
        if not shutil.which(tool):
            missing.append(tool)
    if missing:
        print("boot: missing " + ", ".join(missing), file=sys.stderr)
        return 1 if require else SKIP

    work = os.path.join(args.workdir, args.scenario)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    t = Test(args, work)
    try:
        SCENARIOS[args.scenario](t)
    except Failure as e:
        print(f"FAIL {args.scenario}: {e}", file=sys.stderr)
        return 1
    print(f"PASS {args.scenario}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
