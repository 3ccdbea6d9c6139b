#!/bin/bash
# SPDX-License-Identifier: MIT
# run-in-vm.sh - siprecd's VM test runner: runs a test program under a Debian 6.1 kernel
# that has kernel TLS (tls.ko plus the AEAD crypto modules) and sock_diag (inet_diag,
# tcp_diag), inside QEMU from a busybox initramfs, and exits with the test's exit status.
# Adapted from the team's shared/tools/run-in-vm.sh; used by tests/vm/ktls-test.sh.
#
# Usage:
#   run-in-vm.sh [options] TEST_BINARY [EXTRA_FILE...] [-- TEST_ARGS...]
#
#   TEST_BINARY and every EXTRA_FILE are copied into /testdir inside the VM (by
#   basename); the test runs with /testdir as its current directory, so pass
#   e.g. "-- cert.pem key.pem". Shared libraries of TEST_BINARY and of any ELF
#   EXTRA_FILE are found with ldd and copied to the same paths in the VM.
#
# Options (each also settable through the environment variable shown):
#   -t SECS    time limit for the VM run (KTLSVM_TIMEOUT; default 120 with KVM,
#              600 with TCG). On timeout the script exits 124.
#   -a ACCEL   auto|kvm|tcg (KTLSVM_ACCEL, default auto: KVM when /dev/kvm is
#              usable for a stock kernel, else TCG software emulation)
#   -K FLAVOR  cloud|generic Debian kernel flavour (KTLSVM_FLAVOR, default cloud)
#   -m MEM     guest memory (KTLSVM_MEM, default 512M)
#   -s N       guest CPUs (KTLSVM_SMP, default 2)
#   -e NAME=VALUE   environment variable for the test (repeatable)
#   -l LIB     extra shared library to copy (dlopen'ed ones; repeatable)
#   -k         keep the work directory (initramfs, serial log) and print it
#   -q         do not stream the serial console; print it only on failure
#   -h         help
# Other environment:
#   KTLSVM_CACHE     kernel cache dir (default /var/cache/ktlsvm, or
#                    ~/.cache/ktlsvm when /var/cache is not writable)
#   KTLSVM_KERNEL_PKG  exact kernel package (default: what linux-image-<flavour>-amd64
#                    depends on right now, e.g. linux-image-6.1.0-56-cloud-amd64)
#   KTLSVM_MODULES   modules to load (default: tls + AES-GCM/CCM/ChaCha20 crypto +
#                    inet_diag/tcp_diag for sock_diag)
#   KTLSVM_NO_TCG=1  never fall back to TCG: exit 77 ("skipped") when KVM is unusable
#   KTLSVM_FAIL_INSMOD=GLOB  test of the runner itself: modules whose path (relative to
#                    /lib/modules/KVER) matches GLOB are listed but not copied into the VM, so
#                    their insmod fails there as a broken module would; with '*/net/tls/tls.ko'
#                    the run must fail (status 1), never skip or pass
#   KTLSVM_AUTO_INSTALL=0  do not apt-get install missing host tools
#   KTLSVM_KVM_CPU (default host), KTLSVM_TCG_CPU (default max), KTLSVM_MACHINE
#   (default pc), KTLSVM_APPEND (extra kernel args), KTLSVM_KVM_DEV (default
#   /dev/kvm), KTLSVM_IGNORE_PVM=1 (try KVM even when it is PVM) for special setups
# In auto mode a KVM start that fails before the guest's init runs (e.g. qemu
# aborting on an MSR nested KVM refuses) is retried once with TCG.
#
# Exit status: the test's own status; 124 timeout; 125 VM/infrastructure error
# (no exit marker seen); 77 skipped (KTLSVM_NO_TCG=1 and no usable KVM); 2 usage.
set -euo pipefail

PROG=${0##*/}
die() { echo "$PROG: error: $*" >&2; exit 125; }
note() { echo "$PROG: $*" >&2; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

TIMEOUT=${KTLSVM_TIMEOUT:-}
ACCEL=${KTLSVM_ACCEL:-auto}
FLAVOR=${KTLSVM_FLAVOR:-cloud}
MEM=${KTLSVM_MEM:-512M}
SMP=${KTLSVM_SMP:-2}
KEEP=${KTLSVM_KEEP:-0}
QUIET=${KTLSVM_QUIET:-0}
MODULES=${KTLSVM_MODULES:-"tls gcm ctr ghash_clmulni_intel ghash_generic aesni_intel ccm chacha20poly1305 chacha_x86_64 poly1305_x86_64 inet_diag tcp_diag"}
ENVS=()
LIBS=()
while getopts ":t:a:K:m:s:e:l:kqh" opt; do
    case $opt in
    t) TIMEOUT=$OPTARG ;;
    a) ACCEL=$OPTARG ;;
    K) FLAVOR=$OPTARG ;;
    m) MEM=$OPTARG ;;
    s) SMP=$OPTARG ;;
    e) ENVS+=("$OPTARG") ;;
    l) LIBS+=("$OPTARG") ;;
    k) KEEP=1 ;;
    q) QUIET=1 ;;
    h) usage 0 ;;
    *) echo "$PROG: bad option -$OPTARG" >&2; usage 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage 2
BIN=$1; shift
EXTRAS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do EXTRAS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
TARGS=("$@")
[ -f "$BIN" ] || { echo "$PROG: test binary '$BIN' not found" >&2; exit 2; }
for f in "${EXTRAS[@]+"${EXTRAS[@]}"}"; do [ -e "$f" ] || { echo "$PROG: extra file '$f' not found" >&2; exit 2; }; done
case $FLAVOR in cloud|generic) ;; *) echo "$PROG: -K must be cloud or generic" >&2; exit 2 ;; esac

T0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}'; }

# ---------- host tools ----------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v modprobe >/dev/null || [ -x /sbin/modprobe ] || need_pkgs+=(kmod)
command -v depmod >/dev/null || [ -x /sbin/depmod ] || need_pkgs+=(kmod)
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
    # must be static: it is the only userland in the VM besides the test's libs
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; break; fi
done
[ -n "$BUSYBOX" ] || need_pkgs+=(busybox-static)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "${KTLSVM_AUTO_INSTALL:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        note "installing ${need_pkgs[*]}"
        apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null; } ||
            die "apt-get install ${need_pkgs[*]} failed"
        for b in /bin/busybox /usr/bin/busybox; do
            if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; break; fi
        done
    else
        die "missing host packages: ${need_pkgs[*]} (apt-get install ${need_pkgs[*]})"
    fi
fi
export PATH=$PATH:/sbin:/usr/sbin

# ---------- kernel (cached) ----------
CACHE=${KTLSVM_CACHE:-/var/cache/ktlsvm}
mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] || { CACHE=${HOME:-/tmp}/.cache/ktlsvm; mkdir -p "$CACHE"; }
KDIR=$CACHE/siprecd-$FLAVOR
fetch_kernel() {
    local meta pkg tmp kver
    [ "$FLAVOR" = cloud ] && meta=linux-image-cloud-amd64 || meta=linux-image-amd64
    pkg=${KTLSVM_KERNEL_PKG:-}
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
        if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
            apt-get update >/dev/null 2>&1 || true
            pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
        fi
    fi
    [ -n "$pkg" ] || die "cannot resolve the kernel package behind $meta (apt-get update?)"
    tmp=$(mktemp -d)
    note "downloading $pkg"
    (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    dpkg-deb -x "$tmp"/*.deb "$tmp/x" || { rm -rf "$tmp"; die "dpkg-deb -x failed"; }
    kver=$(ls "$tmp/x/lib/modules")
    rm -rf "$KDIR.new"
    mkdir -p "$KDIR.new/lib/modules/$kver/kernel"
    cp "$tmp/x/boot/vmlinuz-$kver" "$KDIR.new/vmlinuz"
    cp "$tmp/x/boot/config-$kver" "$KDIR.new/config"
    cp "$tmp/x/lib/modules/$kver"/modules.builtin* "$tmp/x/lib/modules/$kver"/modules.order "$KDIR.new/lib/modules/$kver/"
    # keep only what the tests can need: net/tls, sock_diag (net/ipv4) and the crypto modules
    (cd "$tmp/x/lib/modules/$kver/kernel" && cp -r --parents net/tls net/ipv4 crypto arch/x86/crypto lib/crypto "$KDIR.new/lib/modules/$kver/kernel/")
    depmod -b "$KDIR.new" "$kver" || { rm -rf "$tmp"; die "depmod failed"; }
    echo "$kver" > "$KDIR.new/kver"
    echo "$pkg $(dpkg-deb -f "$tmp"/*.deb Version)" > "$KDIR.new/package"
    rm -rf "$tmp" "$KDIR"
    mv "$KDIR.new" "$KDIR"
}
exec 9>"$CACHE/.lock"
flock 9
[ -f "$KDIR/kver" ] && [ -f "$KDIR/vmlinuz" ] || fetch_kernel
flock -u 9
exec 9>&-
KVER=$(cat "$KDIR/kver")

# ---------- accelerator ----------
QACCEL=()
KVMDEV=${KTLSVM_KVM_DEV:-/dev/kvm}
kvm_state() { # prints: ok | missing | noperm | pvm
    if [ ! -e "$KVMDEV" ]; then echo missing
    elif [ ! -r "$KVMDEV" ] || [ ! -w "$KVMDEV" ]; then echo noperm
    elif [ -d /sys/module/kvm_pvm ] && [ "${KTLSVM_IGNORE_PVM:-0}" != 1 ]; then
        echo pvm   # PVM: runs only PVM-enabled guest kernels at speed
    else echo ok; fi
}
KS=$(kvm_state)
case $ACCEL in
kvm) USE=kvm ;;
tcg) USE=tcg ;;
auto)
    if [ "$KS" = ok ]; then USE=kvm
    else
        case $KS in
        missing) why="$KVMDEV does not exist" ;;
        noperm) why="$KVMDEV is not readable+writable by $(id -un) (add it to group kvm)" ;;
        pvm) why="$KVMDEV is PVM (kvm_pvm module), which cannot run a stock Debian kernel" ;;
        esac
        if [ "${KTLSVM_NO_TCG:-0}" = 1 ]; then
            echo "$PROG: SKIP: no usable KVM ($why) and KTLSVM_NO_TCG=1"
            exit 77
        fi
        note "no usable KVM ($why); using TCG software emulation (slower)"
        USE=tcg
    fi ;;
*) echo "$PROG: -a must be auto, kvm or tcg" >&2; exit 2 ;;
esac
if [ "$USE" = kvm ]; then
    QACCEL=(-accel kvm -cpu "${KTLSVM_KVM_CPU:-host}")
    : "${TIMEOUT:=120}"
else
    QACCEL=(-accel tcg,thread=multi -cpu "${KTLSVM_TCG_CPU:-max}")
    : "${TIMEOUT:=600}"
fi

# ---------- initramfs ----------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ktlsvm.XXXXXX")
QPID=""
cleanup() {
    [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then note "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
R=$WORK/root
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,testdir,etc,lib/modules}
cp "$BUSYBOX" "$R/bin/busybox"

copy_libs() { # copy the dynamic libraries of an ELF file to the same paths
    local f=$1 lib
    [ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
    ldd "$f" >/dev/null 2>&1 || return 0   # static or not ours
    for lib in $(ldd "$f" | awk '/=> \//{print $3} /^\t\//{print $1}'); do
        [ -e "$R$lib" ] && continue
        mkdir -p "$R$(dirname "$lib")"
        cp -L "$lib" "$R$lib"
    done
}
cp -L "$BIN" "$R/testdir/"
chmod +x "$R/testdir/${BIN##*/}"
copy_libs "$BIN"
for f in "${EXTRAS[@]+"${EXTRAS[@]}"}"; do
    cp -rL "$f" "$R/testdir/"
    [ -f "$f" ] && copy_libs "$f"
done
for l in "${LIBS[@]+"${LIBS[@]}"}"; do
    mkdir -p "$R$(dirname "$l")"; cp -L "$l" "$R$l"; copy_libs "$l"
done
[ -e "$R/lib64" ] || ln -s lib "$R/lib64" 2>/dev/null || true

# modules in load order (dependencies first), as kmod resolves them
: > "$R/etc/modules.load"
for m in $MODULES; do
    modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}'
done | awk '!seen[$0]++' | while read -r p; do
    rel=${p#"$KDIR/lib/modules/$KVER/"}
    if [ -n "${KTLSVM_FAIL_INSMOD:-}" ]; then
        # shellcheck disable=SC2254 # the glob is the point
        case $rel in $KTLSVM_FAIL_INSMOD)
            note "KTLSVM_FAIL_INSMOD: $rel not copied: its insmod fails in the VM"
            echo "$rel" >> "$R/etc/modules.load"
            continue ;;
        esac
    fi
    mkdir -p "$R/lib/modules/$KVER/$(dirname "$rel")"
    cp "$p" "$R/lib/modules/$KVER/$rel"
    echo "$rel" >> "$R/etc/modules.load"
done
grep -q 'net/tls/tls.ko' "$R/etc/modules.load" || die "tls.ko not found for $KVER"
grep -q 'tcp_diag.ko' "$R/etc/modules.load" || note "tcp_diag.ko not found for $KVER: sock_diag will not answer"
cp "$KDIR/lib/modules/$KVER"/modules.{dep,alias,symbols,builtin,order} "$R/lib/modules/$KVER/" 2>/dev/null || true

squote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
{
    echo '#!/bin/busybox sh'
    echo '/bin/busybox --install -s /bin'
    echo 'export PATH=/bin:/sbin HOME=/testdir'
    echo 'mount -t proc proc /proc; mount -t sysfs sysfs /sys'
    echo 'mount -t devtmpfs devtmpfs /dev 2>/dev/null; mount -t tmpfs tmpfs /tmp'
    echo 'ln -sf /bin/busybox /sbin/modprobe; echo /sbin/modprobe > /proc/sys/kernel/modprobe'
    echo "KVER=$KVER"
    # tls.ko (and what it needs) not loading makes every kTLS check meaningless: the run fails
    # with status 1 before the test; an optional crypto module (a CPU feature TCG lacks) only warns.
    echo 'insfail=0'
    echo 'while read -r m; do insmod "/lib/modules/$KVER/$m" && continue'
    echo '  case "$m" in */net/tls/tls.ko) echo "ktlsvm: FAILED: insmod $m"; insfail=1 ;; *) echo "ktlsvm: insmod $m failed" ;; esac'
    echo 'done < /etc/modules.load'
    echo '[ -d /sys/module/tls ] || { echo "ktlsvm: FAILED: module tls is not loaded"; insfail=1; }'
    echo '[ $insfail = 0 ] || { echo "KTLSVM-EXIT-CODE: 1 uptime=$(cut -d" " -f1 /proc/uptime)"; sync; poweroff -f; }'
    echo 'ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up'
    for e in "${ENVS[@]+"${ENVS[@]}"}"; do echo "export $(squote "$e")"; done
    echo 'cd /testdir'
    echo 'echo "KTLSVM-BEGIN $(uname -r) uptime=$(cut -d" " -f1 /proc/uptime)"'
    printf './%s' "$(squote "${BIN##*/}")"
    for a in "${TARGS[@]+"${TARGS[@]}"}"; do printf ' %s' "$(squote "$a")"; done
    echo ' </dev/null'
    echo 'rc=$?'
    echo 'echo "KTLSVM-EXIT-CODE: $rc uptime=$(cut -d" " -f1 /proc/uptime)"'
    echo 'sync; poweroff -f'
} > "$R/init"
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet -R 0:0 | gzip -1 > "$WORK/initrd.gz")
T_BUILD=$(elapsed "$T0")

# ---------- boot ----------
LOG=$WORK/serial.log
boot() { # sets QRC, T_VM, RC
    : > "$LOG"
    local t1 tpid=""
    t1=$(date +%s.%N)
    timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${QACCEL[@]}" -smp "$SMP" -m "$MEM" \
        -M "${KTLSVM_MACHINE:-pc}" -nodefaults -no-user-config -display none -no-reboot \
        -serial "file:$LOG" -kernel "$KDIR/vmlinuz" -initrd "$WORK/initrd.gz" \
        -append "console=ttyS0 quiet loglevel=4 panic=-1 ${KTLSVM_APPEND:-}" \
        >"$WORK/qemu.out" 2>&1 9>&- &
    QPID=$!
    if [ "$QUIET" != 1 ]; then
        tail -n +1 -f --pid="$QPID" "$LOG" | tr -d '\r' &
        tpid=$!
    fi
    set +e
    wait "$QPID"; QRC=$?
    set -e
    QPID=""
    [ -n "$tpid" ] && { wait "$tpid" 2>/dev/null || true; }
    T_VM=$(elapsed "$t1")
    RC=$(tr -d '\r' < "$LOG" | awk '/^KTLSVM-EXIT-CODE: /{print $2}' | tail -1)
}
boot
if [ -z "$RC" ] && [ "$USE" = kvm ] && [ "$ACCEL" = auto ] && [ "$QRC" != 124 ] && [ "$QRC" != 137 ] &&
   ! grep -q KTLSVM-BEGIN "$LOG"; then
    # KVM that cannot start this guest (e.g. nested KVM refusing an MSR): retry in TCG
    note "KVM boot failed (qemu rc=$QRC: $(head -c 300 "$WORK/qemu.out" | tr '\n' ' ')); retrying with TCG"
    USE=tcg
    QACCEL=(-accel tcg,thread=multi -cpu "${KTLSVM_TCG_CPU:-max}")
    [ -n "${KTLSVM_TIMEOUT:-}" ] || TIMEOUT=600
    boot
fi
info="kernel $(cat "$KDIR/package") accel=$USE build=${T_BUILD}s vm=${T_VM}s total=$(elapsed "$T0")s"
if [ -z "$RC" ]; then
    [ "$QUIET" = 1 ] && tr -d '\r' < "$LOG" >&2
    cat "$WORK/qemu.out" >&2
    if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
        note "TIMEOUT after ${TIMEOUT}s ($info)"
        exit 124
    fi
    note "VM ended without an exit marker (qemu rc=$QRC; $info)"
    exit 125
fi
[ "$QUIET" = 1 ] && [ "$RC" != 0 ] && tr -d '\r' < "$LOG" >&2
note "test exit status $RC ($info)"
exit "$RC"
