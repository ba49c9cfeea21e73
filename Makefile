# to: total-order broadcast tools.  See README.md.
include config.mk

LIB    = lib/libto.a
LIBSRC = $(sort $(wildcard lib/*.c))
LIBOBJ = $(LIBSRC:.c=.o)
LIBHDR = $(wildcard lib/*.h)

BIN    = cmd/tocast cmd/torecv
CMDCOM = cmd/opts.o

UNITSRC = $(sort $(wildcard test/unit/test_*.c))
UNIT    = $(UNITSRC:.c=)
UNITCOM = test/unit/sim.o

# The unit tests again, built with sanitizers into a directory of their own.
ASANDIR  = build/asan
ASANLIB  = $(ASANDIR)/libto.a
ASANOBJ  = $(LIBSRC:%.c=$(ASANDIR)/%.o)
ASANUNIT = $(UNIT:%=$(ASANDIR)/%)
ASANCOM  = $(UNITCOM:%=$(ASANDIR)/%)

MAN1 = $(wildcard man/*.1)
MAN5 = $(wildcard man/*.5)
MAN7 = $(wildcard man/*.7)

all: $(BIN)

$(LIB): $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

lib/%.o: lib/%.c $(LIBHDR)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -c -o $@ $<

cmd/%.o: cmd/%.c $(LIBHDR) cmd/opts.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -c -o $@ $<

$(BIN): %: %.o $(CMDCOM) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $@.o $(CMDCOM) $(LIB) $(LDLIBS)

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

asan: $(ASANUNIT)
	@for t in $(ASANUNIT); do ./$$t || exit 1; done

lint:
	@out=$$(mandoc -Tlint -Wwarning man/* 2>&1); \
	if [ -n "$$out" ]; then printf '%s\n' "$$out"; exit 1; fi

cli: $(BIN)
	bats test/cli

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

demo: deps
	@$(MAKE) -s all
	@timeout 60 sh examples/demo.sh

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
	    $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(MANPREFIX)/man1
	cp -f $(BIN) $(DESTDIR)$(PREFIX)/bin/
	cd $(DESTDIR)$(PREFIX)/bin && chmod 755 $(BIN:cmd/%=%)
	cp -f $(LIB) $(DESTDIR)$(PREFIX)/lib/
	chmod 644 $(DESTDIR)$(PREFIX)/lib/libto.a
	cp -f lib/to.h $(DESTDIR)$(PREFIX)/include/
	chmod 644 $(DESTDIR)$(PREFIX)/include/to.h
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
	cd $(DESTDIR)$(MANPREFIX)/man1 && rm -f $(MAN1:man/%=%)
	if [ -n "$(MAN5)" ]; then \
		cd $(DESTDIR)$(MANPREFIX)/man5 && rm -f $(MAN5:man/%=%); fi
	if [ -n "$(MAN7)" ]; then \
		cd $(DESTDIR)$(MANPREFIX)/man7 && rm -f $(MAN7:man/%=%); fi

.PHONY: all unit asan lint cli deps check demo install uninstall clean
clean:
	rm -f $(LIB) lib/*.o cmd/*.o $(BIN) test/unit/*.o $(UNIT)
	rm -rf build
