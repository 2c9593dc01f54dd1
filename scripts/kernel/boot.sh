#!/usr/bin/env bash
# Boot a kernel + initramfs under QEMU (TCG, no KVM needed) and capture its output.
#
# Usage: scripts/kernel/boot.sh [-o OUTDIR] [-t TIMEOUT_S] [-m MEM_MB] [-c CPUS] KERNEL INITRD [EXTRA_CMDLINE...]
#   e.g. scripts/kernel/boot.sh .cache/kernels/trixie/vmlinuz .cache/kernels/initramfs/shell.cpio.gz \
#          kt.run=shell kt.values=0,32,36
#
# The kernel console (ttyS0) goes to OUTDIR/console.log (and to stdout with -v); the guest's
# structured "KT {json}" records go to a second serial port (ttyS1) -> OUTDIR/kt.log, which the
# kernel never prints to. Exit status: QEMU's (124 on timeout). At the end the KT lines are
# printed to stdout.
set -euo pipefail

outdir=
timeout_s=${KT_BOOT_TIMEOUT:-120}
mem=${KT_GUEST_MEM:-1024}
smp=1
verbose=0
while getopts 'o:t:m:c:v' opt; do
	case $opt in
	o) outdir=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	m) mem=$OPTARG ;;
	c) smp=$OPTARG ;;
	v) verbose=1 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
(($# >= 2)) || { sed -n '2,12p' "$0" >&2; exit 2; }
kernel=$1 initrd=$2
shift 2
[[ -r $kernel && -r $initrd ]] || { echo "boot.sh: cannot read $kernel or $initrd" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "boot.sh: apt-get install qemu-system-x86" >&2; exit 2; }

if [[ -z $outdir ]]; then
	outdir=$(mktemp -d /tmp/kt-boot.XXXXXX)
fi
mkdir -p "$outdir"
: >"$outdir/kt.log"

accel=(-accel tcg -cpu max)
# KVM would be much faster where available (never here); opt-in only.
[[ ${KT_USE_KVM:-0} == 1 && -w /dev/kvm ]] && accel=(-accel kvm -cpu host)

cmdline="console=ttyS0 panic=-1 quiet $*"
start=$(date +%s%N)
set +e
if ((verbose)); then
	timeout -k 5 "$timeout_s" qemu-system-x86_64 "${accel[@]}" -m "$mem" -smp "$smp" \
		-nodefaults -no-user-config -nographic -no-reboot \
		-serial stdio -serial "file:$outdir/kt.log" \
		-kernel "$kernel" -initrd "$initrd" -append "$cmdline" </dev/null 2>&1 | tee "$outdir/console.log"
	rc=${PIPESTATUS[0]}
else
	timeout -k 5 "$timeout_s" qemu-system-x86_64 "${accel[@]}" -m "$mem" -smp "$smp" \
		-nodefaults -no-user-config -nographic -no-reboot \
		-serial stdio -serial "file:$outdir/kt.log" \
		-kernel "$kernel" -initrd "$initrd" -append "$cmdline" </dev/null >"$outdir/console.log" 2>&1
	rc=$?
fi
set -e
ms=$((($(date +%s%N) - start) / 1000000))
printf '%s\n' "$ms" >"$outdir/elapsed_ms"
tr -d '\r' <"$outdir/kt.log" | grep '^KT ' || true
echo "boot.sh: rc=$rc ${ms}ms out=$outdir" >&2
exit "$rc"
