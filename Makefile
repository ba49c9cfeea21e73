# to: total-order broadcast tools.  See README.md.
include config.mk

LIB    = lib/libto.a
LIBSRC = $(sort $(wildcard lib/*.c))
LIBOBJ = $(LIBSRC:.c=.o)
LIBHDR = $(wildcard lib/*.h)

BIN    = cmd/tocast cmd/torecv cmd/toburst cmd/toview
# what the four tools share: options, a member, the poll loop, the gaps
# in a stream, stdout
CMDCOM = cmd/opts.o cmd/member.o cmd/loop.o cmd/gaps.o cmd/out.o
# toburst is cmd/toburst.c and these
BURSTOBJ = cmd/burst_member.o cmd/burst_wire.o cmd/burst_report.o \
	   cmd/burst_launch.o cmd/burst_raw.o

UNITSRC = $(sort $(wildcard test/unit/test_*.c))
UNIT    = $(UNITSRC:.c=)
UNITCOM = test/unit/sim.o

# The unit tests again, built with sanitizers into a directory of their own.
ASANDIR  = build/asan
ASANLIB  = $(ASANDIR)/libto.a
ASANOBJ  = $(LIBSRC:%.c=$(ASANDIR)/%.o)
ASANUNIT = $(UNIT:%=$(ASANDIR)/%)
ASANCOM  = $(UNITCOM:%=$(ASANDIR)/%)

# libFuzzer harnesses (clang), one per decoder, in build/fuzz; see
# test/fuzz.  make fuzz runs each for FUZZTIME seconds, fuzz-short (part of
# check) for FUZZSHORT; each starts with its seed corpus in test/fuzz/corpus
# and keeps what it finds in build/fuzz/corpus, crashes in build/fuzz.
FUZZCC    = clang
FUZZFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=all
FUZZTIME  = 60
FUZZSHORT = 6
FUZZDIR   = build/fuzz
FUZZSRC   = $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ      = $(FUZZSRC:test/fuzz/%.c=$(FUZZDIR)/%)
FUZZLIB   = $(FUZZDIR)/libto.a
FUZZOBJ   = $(LIBSRC:%.c=$(FUZZDIR)/%.o)
# cmd/opts.c for fuzz_opts, and member.c, which reads -k's key file: their
# exits come back to the harness, they print no usage and open no file.
FUZZOPTS  = -Derr=fuzz_err -Derrx=fuzz_errx -Dwarn=fuzz_warn \
            -Dwarnx=fuzz_warnx -Dexit=fuzz_exit -Dopen=fuzz_open \
            -Dfputs=fuzz_fputs

MAN1 = $(wildcard man/*.1)
MAN5 = $(wildcard man/*.5)
MAN7 = $(wildcard man/*.7)

all: $(BIN)

$(LIB): $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

lib/%.o: lib/%.c $(LIBHDR)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LTOFLAGS) $(WFLAGS) -c -o $@ $<

cmd/%.o: cmd/%.c $(LIBHDR) cmd/opts.h cmd/out.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LTOFLAGS) $(WFLAGS) -c -o $@ $<

$(BIN): %: %.o $(CMDCOM) $(LIB)
	$(CC) $(CFLAGS) $(LTOFLAGS) $(WFLAGS) $(LDFLAGS) -o $@ $@.o \
	    $(filter cmd/burst_%.o,$^) $(CMDCOM) $(LIB) $(LDLIBS)

cmd/toburst: $(BURSTOBJ)
cmd/toburst.o $(BURSTOBJ): cmd/burst.h

test/unit/%.o: test/unit/%.c $(LIBHDR) test/unit/sim.h test/unit/check.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -Itest/unit -c -o $@ $<

$(UNIT): %: %.o $(UNITCOM) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $@.o $(UNITCOM) $(LIB) $(LDLIBS)

unit: $(UNIT)
	@for t in $(UNIT); do ./$$t || exit 1; done

$(ASANDIR)/lib/%.o: lib/%.c $(LIBHDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ASANFLAGS) $(WFLAGS) -c -o $@ $<

$(ASANLIB): $(ASANOBJ)
	rm -f $@
	$(AR) rcs $@ $(ASANOBJ)

$(ASANDIR)/test/unit/%.o: test/unit/%.c $(LIBHDR) test/unit/sim.h test/unit/check.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ASANFLAGS) $(WFLAGS) -Itest/unit -c -o $@ $<

$(ASANUNIT): %: %.o $(ASANCOM) $(ASANLIB)
	$(CC) $(ASANFLAGS) $(LDFLAGS) -o $@ $@.o $(ASANCOM) $(ASANLIB) $(LDLIBS)

# Under the sanitizers the seeded simulations are several times slower;
# they look for memory errors there, so fewer schedules (make unit runs
# them all).
asan: $(ASANUNIT)
	@for t in $(ASANUNIT); do \
	    TO_SHORT=1 TO_SCHEDULES=4 ./$$t || exit 1; done

$(FUZZDIR)/lib/%.o: lib/%.c $(LIBHDR)
	@mkdir -p $(@D)
	$(FUZZCC) $(CPPFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer-no-link $(WFLAGS) \
	    -c -o $@ $<

$(FUZZLIB): $(FUZZOBJ)
	rm -f $@
	$(AR) rcs $@ $(FUZZOBJ)

$(FUZZDIR)/sim.o: test/unit/sim.c test/unit/sim.h $(LIBHDR)
	@mkdir -p $(@D)
	$(FUZZCC) $(CPPFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer-no-link $(WFLAGS) \
	    -Itest/unit -c -o $@ test/unit/sim.c

FUZZCMD = $(FUZZDIR)/opts.o $(FUZZDIR)/member.o
$(FUZZCMD): $(FUZZDIR)/%.o: cmd/%.c cmd/opts.h $(LIBHDR)
	@mkdir -p $(@D)
	$(FUZZCC) $(CPPFLAGS) $(FUZZOPTS) $(FUZZFLAGS) \
	    -fsanitize=fuzzer-no-link $(WFLAGS) -c -o $@ $<

$(FUZZDIR)/fuzz_%.o: test/fuzz/fuzz_%.c $(LIBHDR) cmd/opts.h test/unit/sim.h
	@mkdir -p $(@D)
	$(FUZZCC) $(CPPFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer-no-link $(WFLAGS) \
	    -Itest/unit -Icmd -c -o $@ $<

$(FUZZDIR)/fuzz_stack: $(FUZZDIR)/sim.o
$(FUZZDIR)/fuzz_opts: $(FUZZCMD)

$(FUZZ): %: %.o $(FUZZLIB)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $@.o \
	    $(filter-out $@.o $(FUZZLIB),$^) $(FUZZLIB) $(LDLIBS)

fuzz-build: $(FUZZ)

# Regenerate fuzz_stack's seeds: a group's own traffic.
fuzz-seeds: $(LIB) test/unit/sim.o
	@mkdir -p $(FUZZDIR)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -Itest/unit -Itest/fuzz \
	    -o $(FUZZDIR)/seed_stack test/fuzz/seed_stack.c test/unit/sim.o \
	    $(LIB) $(LDLIBS)
	./$(FUZZDIR)/seed_stack test/fuzz/corpus/fuzz_stack

# Each harness for T seconds: make fuzz FUZZTIME=600
fuzz: $(FUZZ)
	@$(MAKE) -s fuzz-run T=$(FUZZTIME)

fuzz-short: $(FUZZ)
	@$(MAKE) -s fuzz-run T=$(FUZZSHORT)

fuzz-run:
	@for f in $(FUZZ); do \
		n=$${f##*/}; mkdir -p $(FUZZDIR)/corpus/$$n; \
		echo "== $$n: $(T) s"; \
		./$$f -max_total_time=$(T) -print_final_stats=1 \
		    -artifact_prefix=$(FUZZDIR)/$$n- \
		    $(FUZZDIR)/corpus/$$n test/fuzz/corpus/$$n \
		    >$(FUZZDIR)/$$n.log 2>&1 || { tail -50 $(FUZZDIR)/$$n.log; \
		    exit 1; }; \
		grep -E '^stat::(number_of_executed_units|peak_rss)|cov:' \
		    $(FUZZDIR)/$$n.log | tail -3; \
	done

lint:
	@out=$$(mandoc -Tlint -Wwarning man/* 2>&1); \
	if [ -n "$$out" ]; then printf '%s\n' "$$out"; exit 1; fi

cli: $(BIN)
	bats test/cli

# The scripts of examples/: shellcheck, then each one's self-test, bounded.
EXAMPLES = demo replog kvstore workqueue chat burst
examples: $(BIN)
	shellcheck -x examples/*.sh
	@for e in $(EXAMPLES); do \
		case $$e in chat|burst) a=--selftest ;; *) a= ;; esac; \
		echo "== examples/$$e.sh $$a"; \
		timeout 60 sh examples/$$e.sh $$a >/dev/null || exit 1; \
	done

# Hosts as network namespaces (test/net/lab.sh): needs root, else skipped.
net: $(BIN)
	bats test/net

# Fault soak over real processes in network namespaces (test/soak/README):
# root only.  SEEDS seeds from SEED0, JOBS at a time (at most 2 on 2 cores),
# each with DURATION seconds of faults (default 45 + seed % 46: 45-90 s); a
# failing run is kept in SOAKDIR/SEED.  soak-short is the slice for CI.
SEEDS   = 10
SEED0   = 1
JOBS    = 1
SOAKDIR = soak.out
soak: $(BIN)
	@out=$$(python3 test/soak/check_test.py 2>&1) || \
	    { printf '%s\n' "$$out"; exit 1; }
	@echo '== check.py self-test: passed'
	@$(if $(DURATION),DURATION=$(DURATION) )bash test/soak/run.sh \
	    $(SEED0) $(SEEDS) $(JOBS) $(SOAKDIR)

soak-short: $(BIN)
	@$(MAKE) -s soak SEEDS=2 SEED0=$(SEED0) DURATION=25 JOBS=2

deps:
	@sh test/deps.sh

# deps first, then the build, also under make -j.
check: deps
	@$(MAKE) -s all
	@$(MAKE) -s unit
	@echo '== unit tests: passed'
	@$(MAKE) -s asan
	@echo '== unit tests (address,undefined sanitizers): passed'
	@$(MAKE) -s lint
	@echo '== man pages (mandoc -Tlint): clean'
	@$(MAKE) -s cli
	@echo '== command-line tests (bats): passed'
	@$(MAKE) -s examples
	@echo '== examples: passed'
	@$(MAKE) -s fuzz-short
	@echo '== fuzz harnesses ($(FUZZSHORT) s each): clean'
	@$(MAKE) -s net
	@echo '== network tests (bats, namespaces; skipped unless root): passed'
	@if [ "$$(id -u)" -eq 0 ]; then $(MAKE) -s soak-short; \
	else echo '== fault soak: skipped (not root)'; fi
	@echo '== fault soak, a short slice (test/soak): passed'

demo: deps
	@$(MAKE) -s all
	@timeout 60 sh examples/demo.sh

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
	    $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(MANPREFIX)/man1 \
	    $(DESTDIR)$(PCDIR) $(DESTDIR)$(COMPDIR)
	cp -f $(BIN) $(DESTDIR)$(PREFIX)/bin/
	cd $(DESTDIR)$(PREFIX)/bin && chmod 755 $(BIN:cmd/%=%)
	cp -f $(LIB) $(DESTDIR)$(PREFIX)/lib/
	chmod 644 $(DESTDIR)$(PREFIX)/lib/libto.a
	cp -f lib/to.h $(DESTDIR)$(PREFIX)/include/
	chmod 644 $(DESTDIR)$(PREFIX)/include/to.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS@|$(LDLIBS)|' to.pc.in >$(DESTDIR)$(PCDIR)/to.pc
	chmod 644 $(DESTDIR)$(PCDIR)/to.pc
	for t in $(BIN:cmd/%=%); do \
		cp -f completion/to.bash $(DESTDIR)$(COMPDIR)/$$t && \
		chmod 644 $(DESTDIR)$(COMPDIR)/$$t || exit 1; \
	done
	cp -f $(MAN1) $(DESTDIR)$(MANPREFIX)/man1/
	cd $(DESTDIR)$(MANPREFIX)/man1 && chmod 644 $(MAN1:man/%=%)
	if [ -n "$(MAN5)" ]; then \
		mkdir -p $(DESTDIR)$(MANPREFIX)/man5 && \
		cp -f $(MAN5) $(DESTDIR)$(MANPREFIX)/man5/ && \
		cd $(DESTDIR)$(MANPREFIX)/man5 && chmod 644 $(MAN5:man/%=%); \
	fi
	if [ -n "$(MAN7)" ]; then \
		mkdir -p $(DESTDIR)$(MANPREFIX)/man7 && \
		cp -f $(MAN7) $(DESTDIR)$(MANPREFIX)/man7/ && \
		cd $(DESTDIR)$(MANPREFIX)/man7 && chmod 644 $(MAN7:man/%=%); \
	fi

uninstall:
	cd $(DESTDIR)$(PREFIX)/bin && rm -f $(BIN:cmd/%=%)
	rm -f $(DESTDIR)$(PREFIX)/lib/libto.a $(DESTDIR)$(PREFIX)/include/to.h
	rm -f $(DESTDIR)$(PCDIR)/to.pc
	cd $(DESTDIR)$(COMPDIR) && rm -f $(BIN:cmd/%=%)
	cd $(DESTDIR)$(MANPREFIX)/man1 && rm -f $(MAN1:man/%=%)
	if [ -n "$(MAN5)" ]; then \
		cd $(DESTDIR)$(MANPREFIX)/man5 && rm -f $(MAN5:man/%=%); fi
	if [ -n "$(MAN7)" ]; then \
		cd $(DESTDIR)$(MANPREFIX)/man7 && rm -f $(MAN7:man/%=%); fi

# The standard sweep of toburst(1): every protocol, m = 1 10 100 1000
# 10000, 10 rounds, 3 members, both modes (about a minute on 2 cores).
bench: all
	@mkdir -p bench
	cmd/toburst --local 3 -p raw,all -m 1,10,100,1000,10000 --all --one \
	    -o tsv --plot bench/figures.svg >bench/results.tsv.tmp
	mv bench/results.tsv.tmp bench/results.tsv
	bench/targets.sh bench/targets.tsv

.PHONY: all unit asan lint cli examples net deps check demo install uninstall clean \
	bench fuzz fuzz-build fuzz-seeds fuzz-short fuzz-run soak soak-short
clean:
	rm -f $(LIB) lib/*.o cmd/*.o $(BIN) test/unit/*.o $(UNIT)
	rm -rf build
