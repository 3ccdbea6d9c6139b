#!/bin/sh
# SPDX-License-Identifier: MIT
# Every C file follows the committed .clang-format (`make format` fixes them).
. "$SRCDIR/tests/integration/lib.sh"
need clang-format git
cd "$SRCDIR"
for f in $(git ls-files '*.c' '*.h'); do
	if clang-format "$f" | cmp -s - "$f"; then :; else bad "$f is not clang-formatted"; fi
done
[ $fails -eq 0 ] && ok "$(git ls-files '*.c' '*.h' | wc -l) files formatted"
finish
