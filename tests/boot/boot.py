#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# QEMU boot tests: boots Debian's kernel under TCG with an initramfs holding
# cocoinit as /init and tests/boot/test-agent, with virtio disks of given
# serials, and asserts on the console (ttyS0) and the agent's report (ttyS1).
# Each scenario is a function scenario_<name>(t); meson runs one per test.
# Adding one: write the function, add its name to tests/boot/meson.build.
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
        text = "\n".join(self.lines("state "))
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
    def initramfs(self, agent_conf="", modules=DEFAULT_MODULES, busybox=False, append=None):
        """Builds the guest's initramfs; append: an existing initrd to put first."""
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
        run(cmd)
        return out

    def boot(self, cmdline, agent_conf="", modules=DEFAULT_MODULES, extra_qemu=(), busybox=False,
             on_console=None, append=None):
        """Boots once. cmdline: the scenario's kernel parameters (a list);
        on_console(line, qmp): called for each console line while it runs;
        append: an existing initrd the initramfs is appended to."""
        initrd = self.initramfs(agent_conf, modules, busybox, append)
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
    expect_console(b, r"cocoinit: timing: mounts=\d+ modules=\d+ listen=\d+ discover=\d+ consume=\d+ "
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
    if not shutil.which("qemu-system-x86_64"):
        missing.append("qemu-system-x86_64 (package qemu-system-x86)")
    if find_kernel()[0] is None:
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
