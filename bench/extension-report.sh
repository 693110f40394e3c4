#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# What bench/extension's guests hand off to, after cocoinit or
# bench/veritysetup-init.sh: reads a file through the extension's mount (so
# a run that did not really mount it fails), then sends the kernel log,
# /proc/mounts and cocoinit's state.json to the host on ttyS1 and powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
out=/dev/ttyS1
{
	for d in /run/kata-extensions/*; do
		[ -d "$d" ] || continue
		echo "BENCH sum ${d##*/} $(busybox sha256sum "$d/bench/check.bin")"
	done
	busybox dmesg | busybox sed 's/^/BENCH kmsg /'
	busybox sed 's/^/BENCH mount /' /proc/mounts
	busybox sed 's/^/BENCH module /' /proc/modules
	[ -r /run/cocoinit/state.json ] && echo "BENCH state $(busybox tr -d '\n' </run/cocoinit/state.json)"
	echo "BENCH done"
} >$out 2>&1
busybox poweroff -f
