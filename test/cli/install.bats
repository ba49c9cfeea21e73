#!/usr/bin/env bats
# make install and make uninstall, into a DESTDIR of the test's own with a
# PREFIX, never the real system: the files and their modes, the installed
# tools in a live group, their pages, a program built with pkg-config
# against the installed libto.a, and nothing of ours left after uninstall.

# shellcheck disable=SC2030,SC2031,SC2154

load helper

TOP="$BATS_TEST_DIRNAME/../.."
PREFIX=/opt/to-test
TOOLS="tocast torecv toview toburst"

setup_file() {
	DEST="$BATS_FILE_TMPDIR/dest"
	export DEST
	make -s -C "$TOP" install DESTDIR="$DEST" PREFIX="$PREFIX" >&3 2>&1
}

# mode FILE: its permission bits, as 755.
mode() { stat -c %a "$1"; }

@test "install puts every file in DESTDIR with sane modes" {
	local d="$DEST$PREFIX" t p

	for t in $TOOLS; do
		[ "$(mode "$d/bin/$t")" = 755 ]
		[ "$(mode "$d/share/man/man1/$t.1")" = 644 ]
		[ "$(mode "$d/share/bash-completion/completions/$t")" = 644 ]
	done
	[ "$(mode "$d/share/man/man5/to-frame.5")" = 644 ]
	[ "$(mode "$d/share/man/man7/to.7")" = 644 ]
	[ "$(mode "$d/lib/libto.a")" = 644 ]
	[ "$(mode "$d/include/to.h")" = 644 ]
	[ "$(mode "$d/lib/pkgconfig/to.pc")" = 644 ]
	grep -qx "prefix=$PREFIX" "$d/lib/pkgconfig/to.pc"
	grep -qx "Version: $(sed -n 's/^VERSION = //p' "$TOP/config.mk")" \
	    "$d/lib/pkgconfig/to.pc"
	# nothing outside DESTDIR$PREFIX
	run -0 find "$DEST" -mindepth 1 -maxdepth 1
	[ "$output" = "$DEST/opt" ]
}

@test "the installed tools run: --version and a group of three" {
	local b="$DEST$PREFIX/bin" g

	for t in $TOOLS; do
		run -0 "$b/$t" --version
		[[ "$output" == "$t "[0-9]* ]]
	done
	g=$(group)
	start a "$b/torecv" -v -g "$g" -n 100
	start b "$b/torecv" -v -g "$g" -n 100
	wait_for a "joined view"
	wait_for b "joined view"
	start_sh c "seq 100 | '$b/tocast' -g '$g' -w 3"
	wait_exit a
	[ "$EXIT" -eq 0 ]
	wait_exit b
	[ "$EXIT" -eq 0 ]
	wait_exit c
	[ "$EXIT" -eq 0 ]
	seq 100 | cmp - "$(out a)"
	cmp "$(out a)" "$(out b)"
}

@test "every installed page renders without error" {
	local p n=0

	for p in "$DEST$PREFIX"/share/man/man*/*; do
		run -0 --separate-stderr mandoc -Tlint -Wwarning "$p"
		[ -z "$output$stderr" ]
		run -0 --separate-stderr man -l "$p"
		[[ "$output" == *NAME* ]]
		n=$((n + 1))
	done
	[ "$n" -eq 6 ]
}

@test "a program builds with pkg-config against the installed libto.a" {
	local d="$DEST$PREFIX" flags

	cd "$BATS_TEST_TMPDIR"
	cat >t.c <<'C'
#include <stdio.h>
#include <to.h>

int
main(void)
{
	const char *const *p;

	for (p = to_protocols(); *p != NULL; p++)
		printf("%s\n", *p);
	return to_protocol_about("dynseq") == NULL;
}
C
	# the .pc file names PREFIX; point it into DESTDIR with sysroot
	flags=$(PKG_CONFIG_PATH="$d/lib/pkgconfig" PKG_CONFIG_LIBDIR='' \
	    PKG_CONFIG_SYSROOT_DIR="$DEST" pkg-config --cflags --libs --static to)
	[[ "$flags" == *"-I$d/include"* && "$flags" == *"-L$d/lib"* ]]
	[[ "$flags" == *-lto*-lsodium* ]]
	# shellcheck disable=SC2086 # the flags are words
	cc -o t t.c $flags
	run -0 ./t
	[ "$output" = "$("$d/bin/tocast" -p list | awk '{ print $1 }')" ]
}

@test "uninstall leaves nothing of ours" {
	make -s -C "$TOP" uninstall DESTDIR="$DEST" PREFIX="$PREFIX"
	run -0 find "$DEST" -type f -o -type l
	[ -z "$output" ]
}
