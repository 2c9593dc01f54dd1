#!/bin/sh
# Guest test driver: runs the steps named by kt.run=step[,step...] on the kernel command line
# (shell = taint.sh, modules = modules.sh, node = guest.mjs, attrib = attrib.mjs, hotplug = hotplug.mjs).
# Default: shell.
. /test/lib.sh

# Open the KT channel: prefer the second serial port (host: -serial file:...).
KT_OUT=/dev/console
if [ -c /dev/ttyS1 ] && stty -F /dev/ttyS1 raw -echo 2>/dev/null; then
	KT_OUT=/dev/ttyS1
fi
exec 3>"$KT_OUT"
export KT_OUT

run=$(cmdline_arg kt.run)
[ -n "$run" ] || run=shell
rel=$(uname -r)
kt_emit "{\"t\":\"hello\",\"release\":$(json_str "$rel"),\"version\":$(json_str "$(cat /proc/version)"),\"tainted\":$(cat "$TAINTED"),\"uptime\":$(uptime_s),\"run\":$(json_str "$run"),\"channel\":$(json_str "$KT_OUT"),\"memKb\":$(awk '/MemTotal/{print $2}' /proc/meminfo)}"

for step in $(echo "$run" | tr ',' ' '); do
	case $step in
	shell) sh /test/taint.sh ;;
	modules) sh /test/modules.sh ;;
	node | attrib | hotplug)
		script=/test/guest.mjs
		[ "$step" = attrib ] && script=/test/attrib.mjs
		[ "$step" = hotplug ] && script=/test/hotplug.mjs
		if [ -x /bin/node ]; then
			# node opens $KT_OUT itself; one writeSync per record.
			node "$script" 3>&-
			rc=$?
			[ $rc -eq 0 ] || kt_emit "{\"t\":\"error\",\"step\":\"$step\",\"rc\":$rc}"
		else
			kt_emit "{\"t\":\"skip\",\"step\":\"$step\",\"skip\":\"node not in initramfs\"}"
		fi
		;;
	*) kt_emit "{\"t\":\"error\",\"step\":$(json_str "$step"),\"error\":\"unknown step\"}" ;;
	esac
done
kt_emit "{\"t\":\"done\",\"tainted\":$(cat "$TAINTED"),\"uptime\":$(uptime_s)}"
exec 3>&-
