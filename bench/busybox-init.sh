#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# The alternative cocoinit is measured against: a busybox /init that does the
# same job with shell tools. It mounts the early filesystems, loads the
# modules named on the command line, finds the disk whose sysfs serial is
# "initdata", extracts the Kata raw format with dd and gunzip, and execs the
# agent. Used by bench/boot only, as /busybox-init with rdinit=.
/bin/busybox mkdir -p /proc /sys /dev /run
/bin/busybox mount -t proc -o nosuid,nodev,noexec proc /proc
/bin/busybox mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
/bin/busybox mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
/bin/busybox mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
export PATH=/bin

serial=initdata
agent=/usr/bin/kata-agent
modules=
for arg in $(cat /proc/cmdline); do
	case $arg in
	cocoinit.initdata_serial=*) serial=${arg#*=} ;;
	cocoinit.agent=*) agent=${arg#*=} ;;
	cocoinit.modules=*) modules=${arg#*=} ;;
	esac
done
# The kernel's module loading is the same work whichever init asks for it:
# these two kmsg lines let bench/boot report the init's own time without it.
echo "busybox-init: modules start" >/dev/kmsg
for m in $(echo "$modules" | tr , ' '); do
	busybox modprobe "$m"
done
echo "busybox-init: modules done" >/dev/kmsg

found=
for d in /sys/class/block/*; do
	[ -e "$d/partition" ] && continue
	[ -r "$d/serial" ] || continue
	if [ "$(cat "$d/serial")" = "$serial" ]; then
		found=/dev/${d##*/}
	fi
done
if [ -z "$found" ]; then
	echo "busybox-init: initdata not found" >/dev/console
	exec busybox poweroff -f
fi

dir=/run/confidential-containers/initdata
mkdir -p "$dir"
mount -t tmpfs -o nosuid,nodev,noexec,mode=0700 tmpfs "$dir"
magic=$(dd if="$found" bs=8 count=1 2>/dev/null)
if [ "$magic" != initdata ]; then
	echo "busybox-init: $found has no initdata header" >/dev/console
	exec busybox poweroff -f
fi
# u64 little-endian length at offset 8
len=0
shift=0
for b in $(dd if="$found" bs=1 skip=8 count=8 2>/dev/null | od -An -tu1); do
	len=$((len + (b << shift)))
	shift=$((shift + 8))
done
tail -c +17 "$found" | head -c "$len" | gunzip -c >"$dir/initdata.toml"
chmod 0400 "$dir/initdata.toml"

export COCOINIT_INITDATA_DEVICE=$found COCOINIT_INITDATA_DIR=$dir COCOINIT_INITDATA_FORMAT=kata-raw COCOINIT_INITDATA_METHOD=sysfs
exec "$agent"
