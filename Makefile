# posthorn build. `make` builds into build/; `make check` runs every test;
# SANITIZE=1 builds with ASan+UBSan into build-san/. See README.md.

SANITIZE ?= 0
CC ?= gcc
ifeq ($(CC),cc)
CC := gcc
endif
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
PREFIX ?= /usr/local

ifeq ($(SANITIZE),1)
BUILD ?= build-san
OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
SANLD := -fsanitize=address,undefined
else
BUILD ?= build
OPT := -O2 -D_FORTIFY_SOURCE=2
SANLD :=
endif

PKG_CFLAGS := $(shell pkg-config --cflags openssl 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
CPPFLAGS += -D_GNU_SOURCE -Ilib $(PKG_CFLAGS)
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS += -std=c11 -g $(OPT) $(WARN) -fstack-protector-strong -fPIE \
	-fno-strict-aliasing -MMD -MP
# --as-needed: a program that calls no OpenSSL function itself (the
# daemons: lib/tls loads it on first use, lib/tls_dl.h) does not map it.
LDFLAGS += -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(SANLD)
LIBS := -llmdb $(PKG_LIBS) -lresolv -lcrypt
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

DAEMON_NAMES := master smtpd cleanup qmgr smtp local pickup bounce pop3d imapd anvil
DAEMONS := $(foreach d,$(DAEMON_NAMES),$(if $(wildcard $(d)/$(d).c),$(d)))

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBA := $(BUILD)/lib/libposthorn.a

POSTHORN_SRC := $(filter-out cli/sendmail% cli/postdrop%,$(wildcard cli/*.c))
SENDMAIL_SRC := $(wildcard cli/sendmail*.c)
POSTDROP_SRC := $(wildcard cli/postdrop*.c)
TESTSVC_SRC := $(wildcard tests/services/*.c)
UNIT_SRC := $(wildcard tests/unit/check_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

BINS := $(BUILD)/bin/posthorn $(if $(SENDMAIL_SRC),$(BUILD)/bin/sendmail) \
	$(if $(POSTDROP_SRC),$(BUILD)/bin/postdrop)
LIBEXEC := $(DAEMONS:%=$(BUILD)/libexec/%)
TESTSVCS := $(TESTSVC_SRC:tests/services/%.c=$(BUILD)/tests/libexec/%)
UNIT_BIN := $(BUILD)/tests/unit_tests

.PHONY: all deps check unit integration fuzz run install format format-check \
	docs clean bench bench-floor
all: $(BINS) $(LIBEXEC) $(TESTSVCS) $(if $(SENDMAIL_SRC),links)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/posthorn: $(POSTHORN_SRC:%.c=$(BUILD)/obj/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/sendmail: $(SENDMAIL_SRC:%.c=$(BUILD)/obj/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/postdrop: $(POSTDROP_SRC:%.c=$(BUILD)/obj/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: links
links: $(BUILD)/bin/sendmail
	@ln -sf sendmail $(BUILD)/bin/mailq
	@ln -sf sendmail $(BUILD)/bin/newaliases

# Each daemon: every .c file in its folder.
define DAEMON_RULE
$(BUILD)/libexec/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c)) $(LIBA)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call DAEMON_RULE,$(d))))

$(BUILD)/tests/libexec/%: $(BUILD)/obj/tests/services/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The unit test runner: one Check suite per tests/unit/check_<module>.c,
# collected into one binary so `make check` prints one summary line.
$(BUILD)/tests/suites.h: $(UNIT_SRC)
	@mkdir -p $(@D)
	@for f in $(notdir $(UNIT_SRC:.c=)); do echo "SUITE($${f#check_})"; done > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(BUILD)/obj/tests/unit/unit_main.o: $(BUILD)/tests/suites.h
$(BUILD)/obj/tests/unit/%.o: CPPFLAGS += -I$(BUILD)/tests -Itests/unit
$(BUILD)/obj/tests/unit/%.o: CFLAGS += -Wno-missing-prototypes

$(UNIT_BIN): $(UNIT_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/tests/unit/unit_main.o \
		$(BUILD)/obj/tests/unit/unit_tmp.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LIBS)

deps:
	@sh tools/deps.sh

unit: all $(UNIT_BIN)
	cd tests/unit && CK_FORK=yes ../../$(UNIT_BIN)

integration: all
	python3 tests/integration/run.py --build $(abspath $(BUILD))

check: deps
	$(MAKE) unit
	$(MAKE) integration

# libFuzzer targets: built with clang into build-fuzz/, each run for
# FUZZ_SECONDS on a copy of its seed corpus.
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=c11 -g -O1 -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

fuzz: deps $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do n=$${f##*/}; \
	  mkdir -p tests/fuzz/corpus-work/$$n; \
	  cp -r tests/fuzz/corpus/$$n/. tests/fuzz/corpus-work/$$n/ 2>/dev/null || true; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=0 \
	     tests/fuzz/corpus-work/$$n 2>&1 | tail -3; done

docs: docs/parameters.md
docs/parameters.md: $(BUILD)/bin/posthorn
	$(BUILD)/bin/posthorn conf --markdown > $@

run: deps all
	@test -f run/main.cf || $(BUILD)/bin/posthorn init $(abspath run)
	$(BUILD)/bin/posthorn -c $(abspath run) start --foreground

install: all
	sh tools/install.sh $(BUILD) $(PREFIX)

bench: all
	sh bench/run.sh

# The machine's floor for scenario 1 without an MTA (docs/performance.md).
bench-floor:
	sh bench/floor.sh

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
