#!/bin/sh
# Loads the out-of-tree test modules built for this kernel (if any) and reports what the
# kernel set: the tainted value before/after, /proc/modules and /sys/module/<m>/taint,
# and the log lines (WARNING header, taint messages). Ends with a sysrq-l header.
. /test/lib.sh

rel=$(uname -r)
dir=/lib/kt-modules/$rel
if [ ! -d "$dir" ]; then
	kt_emit "{\"t\":\"skip\",\"step\":\"modules\",\"skip\":$(json_str "no test modules for $rel")}"
	exit 0
fi
dmesg -c >/dev/null
for m in kt_gpl kt_prop kt_warn; do
	[ -f "$dir/$m.ko" ] || continue
	before=$(cat "$TAINTED")
	insmod "$dir/$m.ko"
	rc=$?
	after=$(cat "$TAINTED")
	pm=$(grep "^$m " /proc/modules)
	st=$(cat /sys/module/$m/taint 2>/dev/null)
	lines=$(dmesg -c | grep -E 'Tainted|taint|kt_|WARNING' | json_lines)
	kt_emit "{\"t\":\"insmod\",\"module\":\"$m\",\"rc\":$rc,\"before\":$before,\"after\":$after,\"procModules\":$(json_str "$pm"),\"sysTaint\":$(json_str "$st"),\"lines\":$lines}"
done
echo l >/proc/sysrq-trigger
lines=$(dmesg -c | grep -E 'Tainted|Not tainted' | json_lines)
kt_emit "{\"t\":\"sysrq\",\"wrote\":null,\"rc\":0,\"tainted\":$(cat "$TAINTED"),\"lines\":$lines}"
