#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs everything siprecd needs to build, run and test on Debian 12, then builds libsrtp2
# from Debian's own source package against OpenSSL into .deps/ (configure prefers it).
# Idempotent: packages already present are not reinstalled; a built libsrtp is reused.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

PKGS="build-essential pkgconf clang llvm libclang-rt-14-dev clang-format
liburing-dev libssl-dev openssl libsrtp2-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
libsystemd-dev systemd sqlite3 libsqlite3-dev libcmocka-dev libexpat1-dev libjson-c-dev
libcurl4-openssl-dev
libargon2-dev libopus-dev libspandsp-dev libbcg729-dev libopencore-amrnb-dev
libopencore-amrwb-dev libvo-amrwbenc-dev libgsm1-dev libflac-dev libmicrohttpd-dev libgnutls28-dev chromium sip-tester tcpdump iproute2 procps psmisc python3 python3-cryptography gdb jq
qemu-system-x86 busybox-static cpio kmod e2fsprogs xfsprogs curl git dpkg-dev patch debhelper lintian kamailio kamailio-tls-modules"

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root (apt-get install needs it)" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# Node.js and npm drive the browser test (puppeteer-core): Debian's own when the machine has none
# (a machine may already carry another Node.js, which is kept).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

# deb-src for the same suites as the binary sources, so `apt-get source libsrtp2` works.
need_src=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
	need_src=1
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
			>/etc/apt/sources.list.d/siprecd-src.sources
	elif [ -f /etc/apt/sources.list ]; then
		grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
			>/etc/apt/sources.list.d/siprecd-src.list
	fi
fi

# The patch set's identity: a .deps built from other patches (or none) is rebuilt.
patches_hash=$(cat /dev/null "$top"/patches/libsrtp2/*.patch 2>/dev/null | sha256sum | cut -c1-16)
stamp="$top/.deps/libsrtp-patches.stamp"
srtp_build=0
if [ ! -f "$top/.deps/lib/libsrtp2.a" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$patches_hash" ]; then
	srtp_build=1
fi

if [ -n "$missing" ] || [ $need_src = 1 ] || [ $srtp_build = 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
fi
if [ -n "$missing" ]; then
	echo "install-deps: installing$missing"
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# puppeteer-core for the web console's browser test (tests/browser), pinned by its
# package-lock.json; it drives /usr/bin/chromium and must never download a browser.
if command -v npm >/dev/null && [ ! -d "$top/tests/browser/node_modules/puppeteer-core" ]; then
	(cd "$top/tests/browser" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts)
fi
# s3rver, the S3-compatible server of tests/integration/s3.sh (test-only), pinned by
# tests/s3/package-lock.json.
if command -v npm >/dev/null && [ ! -d "$top/tests/s3/node_modules/s3rver" ]; then
	(cd "$top/tests/s3" && npm ci --no-audit --no-fund --ignore-scripts)
fi

# libsrtp2 with OpenSSL crypto: Debian's build uses NSS, measured here at 3.9 us per packet
# (38 us with 2,000 streams) against ~0.6 us flat with OpenSSL. Build Debian's own source.
# patches/libsrtp2/*.patch (applied in name order, -p1 in the source tree) remove per-packet
# costs measured in bench/RESULTS.md.
if [ $srtp_build = 1 ]; then
	rm -f "$stamp"
	work=$(mktemp -d)
	(
		cd "$work"
		apt-get source -qq libsrtp2 >/dev/null 2>&1 || apt-get source libsrtp2
		cd libsrtp2-*/
		for p in "$top"/patches/libsrtp2/*.patch; do
			[ -f "$p" ] || continue
			patch -p1 -s --no-backup-if-mismatch <"$p"
		done
		./configure --quiet --prefix="$top/.deps" --enable-openssl \
			CFLAGS="-O2 -fPIC" >/dev/null
		make -s -j"$(nproc)" libsrtp2.a >/dev/null
		mkdir -p "$top/.deps/lib/pkgconfig" "$top/.deps/include/srtp2"
		# rename into place: other checkouts may share this .deps and link while it builds
		cp libsrtp2.a "$top/.deps/lib/libsrtp2.a.new"
		mv -f "$top/.deps/lib/libsrtp2.a.new" "$top/.deps/lib/libsrtp2.a"
		cp include/srtp.h crypto/include/auth.h crypto/include/cipher.h \
			crypto/include/crypto_types.h "$top/.deps/include/srtp2/"
		ver=$(sed -n 's/^PACKAGE_VERSION=.\([0-9.]*\).*/\1/p' configure | head -1)
		cat >"$top/.deps/lib/pkgconfig/libsrtp2.pc" <<PC
prefix=$top/.deps
libdir=\${prefix}/lib
includedir=\${prefix}/include
Name: libsrtp2
Description: libsrtp2 built with OpenSSL (project-local)
Version: ${ver:-2}
Libs: -L\${libdir} -lsrtp2
Libs.private: -lcrypto
Cflags: -I\${includedir}
PC
	)
	rm -rf "$work"
	echo "$patches_hash" >"$stamp"
	echo "install-deps: libsrtp2 (OpenSSL, patches $patches_hash) built into $top/.deps"
fi
