# shellcheck shell=sh disable=SC2034
# Shared helpers for the shell guest scripts (sourced). Emits the KT protocol:
#   one line "KT <json>\n" per record, written with a single printf to fd 3.
# fd 3 is the KT channel opened by run.sh: /dev/ttyS1 (second QEMU serial port, which the
# kernel never prints to, so records cannot interleave with printk) or /dev/console.

TAINTED=/proc/sys/kernel/tainted

# json_str STRING -> "escaped" (control chars dropped; the kernel log is ASCII)
json_str() {
	printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\010\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g')"
}

# json_lines: stdin lines -> ["...","..."]
json_lines() {
	sep=''
	printf '['
	while IFS= read -r l; do
		printf '%s%s' "$sep" "$(json_str "$l")"
		sep=','
	done
	printf ']'
}

kt_emit() {
	printf 'KT %s\n' "$1" >&3
}

uptime_s() {
	cut -d' ' -f1 /proc/uptime
}

cmdline_arg() { # cmdline_arg NAME -> value of NAME=... on the kernel command line
	for a in $(cat /proc/cmdline); do
		case $a in "$1="*) echo "${a#*=}" ;; esac
	done
}
