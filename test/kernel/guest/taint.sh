#!/bin/sh
# Shell-only oracle check: for each value in kt.values=V1,V2,... (applied in order; writes
# only OR bits in) write it to /proc/sys/kernel/tainted, read it back, trigger a sysrq-l
# backtrace and report the kernel's "Tainted:" lines from the log buffer (dmesg -c reads
# and clears it, so each record holds only that step's lines).
. /test/lib.sh

values=$(cmdline_arg kt.values)
dmesg -c >/dev/null
for v in $(echo "$values" | tr ',' ' '); do
	echo "$v" >"$TAINTED"
	# shellcheck disable=SC2320 # the status of the write itself
	rc=$?
	t=$(cat "$TAINTED")
	echo l >/proc/sysrq-trigger
	lines=$(dmesg -c | grep -E 'Tainted|Not tainted' | json_lines)
	kt_emit "{\"t\":\"sysrq\",\"wrote\":$v,\"rc\":$rc,\"tainted\":$t,\"lines\":$lines}"
done
