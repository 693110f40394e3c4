#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# The alternative cocoinit's extension step is measured against: a busybox
# /init that mounts one Kata guest extension the way Kata's
# kata-extension-mount.sh does, with `veritysetup open --no-superblock` and
# `mount -t erofs`, then execs the same report program cocoinit hands off to.
# Used by bench/extension only, as /veritysetup-init with rdinit=.
/bin/busybox mkdir -p /proc /sys /dev /run
/bin/busybox mount -t proc -o nosuid,nodev,noexec proc /proc
/bin/busybox mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
/bin/busybox mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
/bin/busybox mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# No udev in this guest. libdevmapper notices that by itself (no /run/udev/control)
# and makes /dev/mapper/<name> without waiting; this says so explicitly.
export DM_DISABLE_UDEV=1

agent=/usr/bin/kata-agent
modules=
name='' params=''
# shellcheck disable=SC2013 # the words of the command line
for arg in $(cat /proc/cmdline); do
	case $arg in
	cocoinit.agent=*) agent=${arg#*=} ;;
	cocoinit.modules=*) modules=${arg#*=} ;;
	kata.extension.*.verity_params=*)
		name=${arg#kata.extension.}
		name=${name%%.verity_params=*}
		params=${arg#*.verity_params=} ;;
	esac
done
fail() {
	echo "veritysetup-init: $*" >/dev/kmsg
	echo "veritysetup-init: $*" >/dev/console
	exec busybox poweroff -f
}
[ -n "$name" ] || fail "no kata.extension.<name>.verity_params= on the command line"
root_hash='' salt='' data_blocks='' data_block_size='' hash_block_size=''
for kv in $(echo "$params" | tr , ' '); do
	case $kv in
	root_hash=*) root_hash=${kv#*=} ;;
	salt=*) salt=${kv#*=} ;;
	data_blocks=*) data_blocks=${kv#*=} ;;
	data_block_size=*) data_block_size=${kv#*=} ;;
	hash_block_size=*) hash_block_size=${kv#*=} ;;
	esac
done

# The same modules cocoinit loads, in its order: cocoinit.modules, then
# dm_mod, dm_verity, erofs (busybox modprobe follows modules.dep; the soft
# dependency of libcrc32c is named, as cocoinit follows modules.softdep).
echo "veritysetup-init: modules start" >/dev/kmsg
for m in $(echo "$modules" | tr , ' ') dm_mod dm_verity crc32c_generic erofs; do
	busybox modprobe "$m" || fail "modprobe $m failed"
done
echo "veritysetup-init: modules done" >/dev/kmsg

# The disk by its serial, compared on the 20 bytes virtio-blk reports.
serial=extension-$name
# shellcheck disable=SC3057 # busybox ash has it, without a fork
serial=${serial:0:20}
disk=
for d in /sys/class/block/*; do
	[ -e "$d/partition" ] && continue
	[ -r "$d/serial" ] || continue
	read -r s <"$d/serial"
	[ "$s" = "$serial" ] && disk=${d##*/}
done
[ -n "$disk" ] || fail "no disk with serial=$serial"
echo "veritysetup-init: extension $name disk /dev/$disk" >/dev/kmsg

# p1 (EROFS) and p2 (hash tree); the kernel may add them after the disk.
p1='' p2='' i=0
while [ $i -lt 500 ]; do
	i=$((i + 1))
	for p in "/sys/class/block/$disk/$disk"*; do
		[ -r "$p/partition" ] || continue
		read -r no <"$p/partition"
		case $no in
		1) p1=/dev/${p##*/} ;;
		2) p2=/dev/${p##*/} ;;
		esac
	done
	[ -n "$p1" ] && [ -n "$p2" ] && [ -b "$p1" ] && [ -b "$p2" ] && break
	usleep 10000
done
if [ -z "$p1" ] || [ -z "$p2" ]; then
	fail "/dev/$disk: no partitions 1 and 2"
fi

veritysetup open --no-superblock "$p1" "extension-$name" "$p2" "$root_hash" --salt="$salt" \
	--data-blocks="$data_blocks" --data-block-size="$data_block_size" --hash-block-size="$hash_block_size" \
	>/dev/console 2>&1 || fail "veritysetup open failed"
mkdir -p "/run/kata-extensions/$name"
mount -t erofs -o ro,nosuid,nodev "/dev/mapper/extension-$name" "/run/kata-extensions/$name" ||
	fail "mount of /dev/mapper/extension-$name failed"
echo "veritysetup-init: extension $name mounted" >/dev/kmsg
exec "$agent"
