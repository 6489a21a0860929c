# egress-fence top-level Makefile.
#
#   make            build BPF objects, egressd, egressctl, unit tests
#   make deps       install the Debian packages the build and tests need
#   make test       the whole suite (unit, fuzz smoke, integration), as root
#   make SAN=1 ...  the same with AddressSanitizer + UBSan (build/san/)
#   make bench      benchmarks, ratios measured side by side
#   make bench-compare BASE=<commit>
#                   bench/costs.py on BASE's build and this one, side by side
#   make V=1        show full commands
.DELETE_ON_ERROR:
.SUFFIXES:

SAN ?=
ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD ?= build/normal
SANFLAGS :=
endif

CC ?= cc
# Debian's python3, whatever else is first in PATH
PYTHON := /usr/bin/python3
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# The programs the build runs, looked up in PATH before anything is built, so
# that a fresh machine hears in one line what to do rather than a shell's
# "bpftool: not found" (cheap: one shell, no package queries). Not for deps
# itself, nor for test, demo, bench and vmtest, which run deps first and
# then make again; not for install once the binaries are built, nor for
# clean, format, lint and uninstall.
BUILD_TOOLS := $(firstword $(CC)) $(firstword $(CLANG)) $(firstword $(BPFTOOL)) protoc-c \
	protoc curl
TOOLLESS_GOALS := clean format lint uninstall \
	$(if $(filter 2,$(words $(wildcard $(BUILD)/egressd $(BUILD)/egressctl))),install)
ifeq ($(filter deps test demo bench bench-compare vmtest,$(MAKECMDGOALS)),)
ifneq ($(filter-out $(TOOLLESS_GOALS),$(or $(MAKECMDGOALS),all)),)
space := $() $()
MISSING_TOOLS := $(shell for t in $(BUILD_TOOLS); do command -v "$$t" >/dev/null 2>&1 || \
	echo "$$t"; done)
ifneq ($(MISSING_TOOLS),)
comma := ,
$(error $(subst $(space),$(comma) ,$(strip $(MISSING_TOOLS))) not found: run `make deps` (installs \
the build dependencies))
endif
endif
endif

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# -Wno-format-truncation: configured paths are capped at EF_PATH_MAX_CFG
# (3072) when read, so the 4096-byte buffers they are joined into cannot
# truncate; gcc cannot see that bound and would flag every join.
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CWARN := -Wno-format-truncation
CFLAGS ?= -O2 -g
CFLAGS += $(WARN) $(CWARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Ipolicy -Idaemon -I$(BUILD) \
	-I$(BUILD)/otlp -MMD -MP $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Wno-address-of-packed-member \
	-I$(BUILD) -Iinclude -Ibpf

POLICY_SRCS := $(wildcard policy/*.c)
POLICY_OBJS := $(POLICY_SRCS:%.c=$(BUILD)/%.o)
# one folder per part of egressd (README "Layout"); main.c wires them together
DAEMON_SRCS := $(wildcard daemon/*/*.c)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
# the DNS proxy's message layer: pure functions, also linked into the test_dns_* tests
DNSMSG_OBJ := $(BUILD)/daemon/dns/dnsmsg.o $(BUILD)/daemon/dns/dnsmsg_ttl.o
CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

LIBS_POLICY := -lcjson -lpsl
LIBS_DAEMON := -lbpf -lelf -lz -lcjson -lldns -lcurl -lprotobuf-c -lmnl -lpsl -lpthread -lm
LIBS_CLI := -lcjson -lpsl

BPF_OBJ := $(BUILD)/fence.bpf.o
SKEL := $(BUILD)/fence.skel.h
# tamper resistance (lsm/): its own object, so that a kernel refusing BPF LSM
# programs cannot keep the fence itself from loading
TAMPER_OBJ := $(BUILD)/tamper.bpf.o
TAMPER_SKEL := $(BUILD)/tamper.skel.h
VMLINUX := $(BUILD)/vmlinux.h

.PHONY: all deps test test-unit test-integration test-security fuzz fuzz-smoke bench bench-compare format lint clean demo \
	install uninstall vmtest

# the OTLP schema's files and what is generated from them (see "The OTLP schema" below;
# defined before the first rule that names them: prerequisites expand when read)
OTLP_PROTO_URL := https://registry.npmjs.org/dd-trace/-/dd-trace-6.21.0.tgz
OTLP_PROTO_SHA256 := fa6d74a613af044ed1c93a3b6b00aaf9038db0135eee110acc2c150458ceac65
OTLP_PROTO_DIR := build/otlp-proto
OTLP_PROTOS := common resource trace trace_service
OTLP_PB_C := $(OTLP_PROTOS:%=$(BUILD)/otlp/%.pb-c.c)
OTLP_PB_OBJS := $(OTLP_PB_C:%.c=%.o)
OTLP_PB_H := $(OTLP_PROTOS:%=$(BUILD)/otlp/%.pb-c.h)
OTLP_PY := $(OTLP_PROTOS:%=$(OTLP_PROTO_DIR)/py/%_pb2.py)

all: $(BUILD)/egressd $(BUILD)/egressctl $(UNIT_BINS) $(BENCH_BINS) $(OTLP_PY)

# Debian packages: build, runtime and test dependencies. Why each:
#  clang/llvm, libbpf-dev, bpftool: BPF objects, CO-RE, skeletons
#  libcjson-dev: policy and control-socket JSON; libcmocka-dev: unit tests
#  libelf-dev, zlib1g-dev: libbpf's link deps
#  iproute2, dnsmasq-base, python3: the integration test world
#  libclang-rt-14-dev: libFuzzer and sanitizer runtimes for clang
#  libldns-dev: the DNS proxy parses hostile messages with a proven decoder, not its own
#  libcurl4-openssl-dev: OTLP/HTTP export (HTTPS, keep-alive, timeouts) without our own client
#  libprotobuf-c-dev, protobuf-c-compiler: OTLP/protobuf encoding from the official schema
#  curl, ca-certificates: fetch that schema (see OTLP_PROTO_* below)
#  protobuf-compiler, python3-protobuf: the test receiver decodes with the same official schema
#  python3-yaml: the tests check the OpenTelemetry Collector configs in deploy/otelcol/
#  libmnl-dev: the runner's own addresses (probe detection) from rtnetlink, dump and updates
#  libpsl-dev: the registrable domain of a DNS name (Public Suffix List), for DNS fan-out
#  man-db (with groff-base): the tests render the man pages and fail on any groff warning
#  systemd: the tests check the installed unit (systemd-analyze verify) and tmpfiles.d
#    file (systemd-tmpfiles); nothing needs systemd running
#  shellcheck: tests/integration/test_deploy_ci.py lints the CI scripts (deploy/ci/**.sh)
#  nftables: tests/integration/test_wire.py rewrites destinations with a DNAT rule after the
#    connect hook, as a host's netfilter would, to prove the wire check judges the rewrite
#  qemu-system-x86, linux-image-amd64, busybox-static: make vmtest boots Debian 12's stock
#    kernel (6.1, BPF LSM active) under qemu with this machine's filesystem as its root; the
#    static busybox is the initramfs that loads the kernel's 9p, virtio and overlay modules
#  gdb, strace: tests/security/vectors/tamper_ptrace_outsider.py drives a process outside the
#    fence with gdb as an attacker would; tests/integration/test_tamper.py checks that a job
#    still debugs its own processes (gdb, strace)
#  docker.io: tests/integration/test_docker.py runs Debian's dockerd (and its containerd,
#    runc and docker CLI) behind a job's Docker endpoint (daemon/docker/docker.c); its image is a
#    rootfs of busybox-static, imported offline
#  chromium: HTML report screenshot test (tests/integration/test_report.py renders headless)
DEB_PKGS := clang llvm make gcc pkg-config libbpf-dev bpftool libcjson-dev libcmocka-dev \
	libelf-dev zlib1g-dev iproute2 dnsmasq-base python3 libclang-rt-14-dev procps util-linux \
	libldns-dev libcurl4-openssl-dev libprotobuf-c-dev protobuf-c-compiler curl \
	ca-certificates protobuf-compiler python3-protobuf python3-yaml libmnl-dev libpsl-dev \
	man-db groff-base systemd shellcheck nftables qemu-system-x86 linux-image-amd64 busybox-static \
	gdb strace docker.io chromium
# installs only what is missing, so `make test` and `make demo` stay quick; INITRD=No: the
# kernel package would build an initramfs in /boot that tests/vm/ does not use (it packs its own)
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "  DEPS     installing:" $$missing; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive INITRD=No apt-get install -y -qq --no-install-recommends \
			$$missing >/dev/null; \
	fi

# The OTLP schema. Debian packages no opentelemetry-proto and only Debian and
# npm can be reached here, so the official .proto files (opentelemetry-proto
# v1.7.0) come from an npm package that vendors them verbatim, imports
# flattened: dd-trace 6.21.0, packages/dd-trace/src/opentelemetry/otlp/.
# Pinned by checksum; fetched once into build/otlp-proto (shared by every
# build), then compiled to C (protoc-c) for egressd and to Python (protoc) for
# the test receiver.

$(OTLP_PROTO_DIR)/.fetched:
	@mkdir -p $(@D)
	$(call msg,FETCH,$(OTLP_PROTO_URL))
	$(Q)curl -fsSL --retry 3 --max-time 300 -o $(@D)/pkg.tgz $(OTLP_PROTO_URL)
	$(Q)echo "$(OTLP_PROTO_SHA256)  $(@D)/pkg.tgz" | sha256sum --quiet -c
	$(Q)tar -xzf $(@D)/pkg.tgz -C $(@D) --strip-components=6 \
		$(OTLP_PROTOS:%=package/packages/dd-trace/src/opentelemetry/otlp/%.proto)
	$(Q)rm -f $(@D)/pkg.tgz
	@touch $@

$(OTLP_PB_C) $(OTLP_PB_H) &: $(OTLP_PROTO_DIR)/.fetched
	@mkdir -p $(BUILD)/otlp
	$(call msg,PROTOC-C,$(BUILD)/otlp)
	$(Q)protoc-c --c_out=$(BUILD)/otlp -I$(OTLP_PROTO_DIR) $(OTLP_PROTOS:%=$(OTLP_PROTO_DIR)/%.proto)

$(OTLP_PY) &: $(OTLP_PROTO_DIR)/.fetched
	@mkdir -p $(OTLP_PROTO_DIR)/py
	$(call msg,PROTOC,$(OTLP_PROTO_DIR)/py)
	$(Q)protoc --python_out=$(OTLP_PROTO_DIR)/py -I$(OTLP_PROTO_DIR) \
		$(OTLP_PROTOS:%=$(OTLP_PROTO_DIR)/%.proto)

$(BUILD)/otlp/%.pb-c.o: $(BUILD)/otlp/%.pb-c.c $(OTLP_PB_H)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(VMLINUX):
	@mkdir -p $(@D)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BPF_OBJ): bpf/fence.bpf.c $(VMLINUX) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $@.d -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name fence_bpf > $@

$(TAMPER_OBJ): lsm/tamper.bpf.c $(VMLINUX) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $@.d -c $< -o $@

$(TAMPER_SKEL): $(TAMPER_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name tamper_bpf > $@

$(BUILD):
	@mkdir -p $@

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# the daemon includes the skeleton; dnsmsg.o and dnsmsg_ttl.o do not, so the test_dns_* tests build without BPF
$(filter-out $(DNSMSG_OBJ),$(DAEMON_OBJS)) $(BUILD)/daemon/main.o: | $(SKEL) $(TAMPER_SKEL) $(OTLP_PB_H)

# cli/mountinfo.o: container.c reads egressd's mountinfo as the guard reads the job's
$(BUILD)/egressd: $(BUILD)/daemon/main.o $(DAEMON_OBJS) $(POLICY_OBJS) $(OTLP_PB_OBJS) \
		$(BUILD)/cli/mountinfo.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(LIBS_DAEMON)

$(BUILD)/egressctl: $(CLI_OBJS) $(POLICY_OBJS) $(BUILD)/daemon/control/ctl_proto.o $(BUILD)/daemon/lib/util.o \
		$(BUILD)/daemon/lib/cgroup.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(LIBS_CLI)

# test_export: the exporter's settings and both protobuf encoders
EXPORT_UNIT_OBJS := $(BUILD)/daemon/export/export_cfg.o $(BUILD)/daemon/export/otlp_pb.o \
	$(BUILD)/daemon/export/otlp_span_pb.o $(BUILD)/daemon/lib/span.o \
	$(BUILD)/daemon/lib/util.o $(OTLP_PB_OBJS)
$(BUILD)/tests/test_export: $(EXPORT_UNIT_OBJS) | $(OTLP_PB_H)
$(BUILD)/tests/test_export: LIBS_TEST := -lcurl -lprotobuf-c -lm

# test_probe_*: the probe detectors, pure (no BPF, no daemon)
TEST_PROBE := $(addprefix $(BUILD)/tests/test_probe_,conn dns limits)
$(TEST_PROBE): $(BUILD)/daemon/probe/probe_detect.o
$(TEST_PROBE): LIBS_TEST := -lpsl -lm

# test_wire: the span attributes of egress.packet / egress.sockopt
$(BUILD)/tests/test_wire: $(BUILD)/daemon/spans/wire.o $(BUILD)/daemon/lib/span.o $(BUILD)/daemon/lib/util.o
# test_fold: folding repeated decisions, pure; and what egressctl run closes
$(BUILD)/tests/test_fold: $(BUILD)/daemon/decisions/fold.o $(BUILD)/cli/inherit.o

# test_docker_check: what a job's Docker endpoint passes (routes, bodies), pure
$(BUILD)/tests/test_docker_check: $(BUILD)/daemon/docker/docker_check.o \
		$(BUILD)/daemon/docker/docker_check_body.o

# test_features: what egressd decides and says from the kernel feature probes (a fake table)
$(BUILD)/tests/test_features: $(BUILD)/daemon/lib/kernel_features.o

# test_bus_addr: the session bus paths egressctl run covers
$(BUILD)/tests/test_bus_addr: $(BUILD)/cli/bus_addr.o

# test_container: a job inside a container: its container's id, what it must not find bound in
$(BUILD)/tests/test_container: $(BUILD)/daemon/docker/container.o $(BUILD)/daemon/lib/util.o \
	$(BUILD)/cli/container_reach.o $(BUILD)/cli/mountinfo.o

# test_mountinfo: mountinfo's escapes, as the guard and the copy-on-write layer read them
$(BUILD)/tests/test_mountinfo: $(BUILD)/cli/mountinfo.o

# test_dns_* test the DNS message layer, on top of what every unit test links
TEST_DNS := $(addprefix $(BUILD)/tests/test_dns_,query names build answer cost)
$(TEST_DNS): $(DNSMSG_OBJ) $(BUILD)/daemon/lib/names.o
$(TEST_DNS): LIBS_TEST := -lldns

# test_families: the one table of socket address families, as egressd names them too
$(BUILD)/tests/test_families: $(BUILD)/daemon/lib/names.o
$(BUILD)/tests/test_families: LIBS_TEST := -lldns

# test_suggest: the pure half of egressctl policy suggest (decisions in, rules out)
SUGGEST_RULES_OBJS := $(BUILD)/cli/suggest_rules.o $(BUILD)/cli/suggest_set.o \
	$(BUILD)/cli/suggest_obs.o $(BUILD)/cli/suggest_write.o
$(BUILD)/tests/test_suggest: $(SUGGEST_RULES_OBJS)
$(BUILD)/tests/test_suggest: LIBS_TEST := -lpsl

# test_notices: a notice of egressd's in words (egressctl run's stderr)
$(BUILD)/tests/test_notices: $(BUILD)/cli/notice_text.o $(SUGGEST_RULES_OBJS) \
	$(BUILD)/cli/term_char.o
$(BUILD)/tests/test_notices: LIBS_TEST := -lpsl

$(BUILD)/tests/%: tests/unit/%.c $(POLICY_OBJS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@ $(LDFLAGS) $(LIBS_POLICY) $(LIBS_TEST) \
		-lcmocka

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c,$^) -o $@ $(LDFLAGS) -lm

# libFuzzer targets always use clang with ASan+UBSan
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ipolicy -D_GNU_SOURCE
$(BUILD)/fuzz/%: tests/fuzz/%.c $(POLICY_SRCS)
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(filter %.c,$^) -o $@ $(LIBS_POLICY)

# fuzz_dns fuzzes the DNS message layer rather than the policy library
$(BUILD)/fuzz/fuzz_dns: tests/fuzz/fuzz_dns.c daemon/dns/dnsmsg.c daemon/dns/dnsmsg_ttl.c \
		daemon/dns/dnsmsg_int.h
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Idaemon $(filter %.c,$^) -o $@ -lldns

# fuzz_otlp: the exporter's parser of journal lines and of export responses
$(BUILD)/fuzz/fuzz_otlp: tests/fuzz/fuzz_otlp.c daemon/export/otlp_pb.c daemon/lib/span.c daemon/lib/util.c \
		$(OTLP_PB_C) | $(OTLP_PB_H)
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Idaemon -I$(BUILD)/otlp $(filter %.c,$^) -o $@ -lcjson \
		-lprotobuf-c -lm

# fuzz_run_fds: the run request's inherited_fds (egressd's side)
$(BUILD)/fuzz/fuzz_run_fds: tests/fuzz/fuzz_run_fds.c daemon/jobs/job_fds.c daemon/lib/span.c daemon/lib/util.c
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Idaemon -I$(BUILD) $(filter %.c,$^) -o $@ -lcjson -lm

# fuzz_probe: the probe detectors, on top of the policy library (names, address classes)
$(BUILD)/fuzz/fuzz_probe: tests/fuzz/fuzz_probe.c daemon/probe/probe_detect.c $(POLICY_SRCS)
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Idaemon $(filter %.c,$^) -o $@ $(LIBS_POLICY) -lpsl -lm

# fuzz_wire: the span attributes of egress.packet / egress.sockopt records
$(BUILD)/fuzz/fuzz_wire: tests/fuzz/fuzz_wire.c daemon/spans/wire.c daemon/lib/span.c daemon/lib/util.c \
		$(POLICY_SRCS)
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Idaemon $(filter %.c,$^) -o $@ $(LIBS_POLICY) -lm

# fuzz_docker: what a job's Docker endpoint passes (daemon/docker/docker_check.c,
# docker_check_body.c)
$(BUILD)/fuzz/fuzz_docker: tests/fuzz/fuzz_docker.c daemon/docker/docker_check.c \
		daemon/docker/docker_check_body.c
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Idaemon $(filter %.c,$^) -o $@ -lcjson

# fuzz_bus_addr: DBUS_SESSION_BUS_ADDRESS, as egressctl run reads it
$(BUILD)/fuzz/fuzz_bus_addr: tests/fuzz/fuzz_bus_addr.c cli/bus_addr.c
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(filter %.c,$^) -o $@

fuzz: $(FUZZ_BINS)

test-unit: $(UNIT_BINS)
	tests/run-unit.sh $(BUILD)

fuzz-smoke: $(FUZZ_BINS)
	tests/run-fuzz.sh $(BUILD) $${FUZZ_SECONDS:-30}

test-integration: $(BUILD)/egressd $(BUILD)/egressctl
	$(PYTHON) tests/integration/run.py --build $(BUILD)

# The adversarial suite alone (also part of `make test`); its DNAT vectors need nftables
# (DEB_PKGS), its packet capture is AF_PACKET in Python.
test-security: $(BUILD)/egressd $(BUILD)/egressctl
	$(PYTHON) tests/security/run.py --build $(BUILD)

# The README's test command. Prints one "N passed, N failed" line at the end.
test: deps
	$(MAKE) all fuzz
	tests/run-all.sh $(BUILD)

# A second kernel: Debian 12's stock 6.1 under qemu (tests/vm/), the build of this
# machine run inside it: smoke.sh, then the subset of the integration and security suites
# named in tests/vm/subset.py, in one VM boot. Ends with one "N passed, N failed" line.
# Not part of `make test` (about 20 min under TCG); .ci/run runs it after the host suite.
vmtest: deps
	$(MAKE) all
	$(PYTHON) tests/vm/suite.py --build $(BUILD)

bench: deps
	$(MAKE) all
	$(PYTHON) bench/costs.py --build $(BUILD)
	$(PYTHON) bench/run.py --build $(BUILD)
	$(PYTHON) bench/wire.py --build $(BUILD)
	$(PYTHON) bench/export.py --build $(BUILD)
	$(PYTHON) bench/flood.py --build $(BUILD)
	$(PYTHON) bench/flood.py --build $(BUILD) --spread 250
	$(PYTHON) bench/probe.py --build $(BUILD)
	$(PYTHON) bench/policy.py --build $(BUILD)
	$(PYTHON) bench/tamper.py --build $(BUILD)
	$(PYTHON) bench/docker.py --build $(BUILD)
	$(PYTHON) bench/notices.py --build $(BUILD)
	$(PYTHON) bench/trace_context.py --build $(BUILD)

# bench/costs.py on two builds side by side: BASE (a commit, built from `git archive`
# into $(BUILD)/bench-base/) and this tree, interleaved rounds, the ratios this/BASE.
bench-compare: deps
	@test -n "$(BASE)" || { echo "usage: make bench-compare BASE=<commit>"; exit 2; }
	@sha=$$(git rev-parse --verify "$(BASE)^{commit}") || exit 2; \
	src=$(BUILD)/bench-base/$$sha; \
	if [ ! -x $$src/build/normal/egressd ]; then \
		rm -rf $$src && mkdir -p $$src && git archive $$sha | tar -x -C $$src && \
		$(MAKE) -C $$src BUILD=build/normal all || exit 1; \
	fi; \
	$(MAKE) all && \
	$(PYTHON) bench/costs.py --build $$src/build/normal --label $$(git rev-parse --short $$sha) \
		--build $(BUILD) --label this

# The README's demo command: a demo agent job fenced with the defaults.
demo: deps
	$(MAKE) all
	$(PYTHON) deploy/demo.py --build $(BUILD)

# Installing on a runner host (README, "Installing on a runner host"):
#   make && sudo make install [PREFIX=/usr/local] [DESTDIR=]
#   make uninstall (same PREFIX, DESTDIR)
# Builds the two binaries first if needed (as whoever runs make: root is not
# needed to build, nor to install into a DESTDIR one may write to). Config
# goes to SYSCONFDIR, /etc whatever PREFIX is: /etc/egress-fence is where
# egressd looks without --config (with another SYSCONFDIR the unit passes
# --config). Config files, egressd.json and the example policies, are
# installed only where absent: a reinstall never overwrites one, and says
# so when its file differs from the shipped one; uninstall removes them
# only if unchanged. State (/var/lib/egress-fence, with the span journal)
# is never touched. The CI scripts (deploy/ci/, docs/ci.md) go to
# LIBEXECDIR/egress-fence, the GitHub composite action to
# PREFIX/share/egress-fence/github/fence: its fence.sh is told LIBEXECDIR, so
# that a copy of it in a repository's .github/actions/ finds the step script.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR ?= $(PREFIX)/share/man
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
TMPFILES_DIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR ?= /etc
INSTALL ?= install
CONF_DIR := $(SYSCONFDIR)/egress-fence
EGRESSD_ARGS := $(if $(filter /etc,$(SYSCONFDIR)),, --config $(CONF_DIR)/egressd.json)
INSTALL_POLICIES := ci-agent coding-agent package-build
MAN_PAGES := deploy/man/egressctl.1 deploy/man/egress-fence-policy.5 deploy/man/egressd.8
CI_SCRIPTS := egress-fence-step.sh egress-fence-check.sh
CI_SCRIPT_DIR := $(LIBEXECDIR)/egress-fence
SHARE_DIR := $(PREFIX)/share/egress-fence
ACTION_DIR := $(SHARE_DIR)/github/fence
# (the config's own paths first, so that a SYSCONFDIR put in is not matched again)
SUBST := sed -e 's|/etc/egress-fence/|$(CONF_DIR)/|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@EGRESSD_ARGS@|$(EGRESSD_ARGS)|g' \
	-e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g'
# CONF_FILES: "SOURCE:INSTALLED" pairs, each passed through SUBST
CONF_FILES := deploy/egressd.json:$(CONF_DIR)/egressd.json \
	$(foreach p,$(INSTALL_POLICIES),deploy/policies/$(p).json:$(CONF_DIR)/policies/$(p).json)

install: $(BUILD)/egressd $(BUILD)/egressctl
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX) $(DESTDIR)$(CONF_DIR))
	$(Q)$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(TMPFILES_DIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(CONF_DIR)/policies \
		$(DESTDIR)$(CI_SCRIPT_DIR) $(DESTDIR)$(ACTION_DIR)
	$(Q)$(INSTALL) -m 0755 $(BUILD)/egressd $(DESTDIR)$(SBINDIR)/egressd
	$(Q)$(INSTALL) -m 0755 $(BUILD)/egressctl $(DESTDIR)$(BINDIR)/egressctl
	$(Q)$(INSTALL) -m 0755 $(CI_SCRIPTS:%=deploy/ci/%) $(DESTDIR)$(CI_SCRIPT_DIR)/
	$(Q)$(INSTALL) -m 0644 deploy/ci/github/fence/action.yml $(DESTDIR)$(ACTION_DIR)/action.yml
	$(Q)for m in $(MAN_PAGES); do \
		$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} || exit 1; \
	done
	$(Q)set -e; tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	$(SUBST) deploy/systemd/egressd.service.in > "$$tmp"; \
	$(INSTALL) -m 0644 "$$tmp" $(DESTDIR)$(SYSTEMD_UNIT_DIR)/egressd.service; \
	$(SUBST) deploy/systemd/egress-fence.conf.in > "$$tmp"; \
	$(INSTALL) -m 0644 "$$tmp" $(DESTDIR)$(TMPFILES_DIR)/egress-fence.conf; \
	$(SUBST) deploy/ci/github/fence/fence.sh > "$$tmp"; \
	$(INSTALL) -m 0755 "$$tmp" $(DESTDIR)$(ACTION_DIR)/fence.sh; \
	for pair in $(CONF_FILES); do \
		src=$${pair%%:*}; dst=$(DESTDIR)$${pair#*:}; \
		$(SUBST) "$$src" > "$$tmp"; \
		if [ ! -e "$$dst" ]; then $(INSTALL) -m 0644 "$$tmp" "$$dst"; \
		elif ! cmp -s "$$tmp" "$$dst"; then \
			echo "  KEEP     $$dst: changed here, not overwritten (the shipped one: $$src)"; \
		fi; \
	done

uninstall:
	$(call msg,REMOVE,$(DESTDIR)$(PREFIX) $(DESTDIR)$(CONF_DIR))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/egressd $(DESTDIR)$(BINDIR)/egressctl \
		$(DESTDIR)$(SYSTEMD_UNIT_DIR)/egressd.service \
		$(DESTDIR)$(TMPFILES_DIR)/egress-fence.conf \
		$(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
		$(CI_SCRIPTS:%=$(DESTDIR)$(CI_SCRIPT_DIR)/%) $(DESTDIR)$(ACTION_DIR)/action.yml \
		$(DESTDIR)$(ACTION_DIR)/fence.sh
	$(Q)set -e; tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	for pair in $(CONF_FILES); do \
		src=$${pair%%:*}; dst=$(DESTDIR)$${pair#*:}; \
		[ -e "$$dst" ] || continue; \
		$(SUBST) "$$src" > "$$tmp"; \
		if cmp -s "$$tmp" "$$dst"; then rm -f "$$dst"; \
		else echo "  KEEP     $$dst: changed here, not removed"; fi; \
	done; \
	for d in $(DESTDIR)$(CONF_DIR)/policies $(DESTDIR)$(CONF_DIR) $(DESTDIR)$(CI_SCRIPT_DIR) \
		$(DESTDIR)$(ACTION_DIR) $(DESTDIR)$(SHARE_DIR)/github $(DESTDIR)$(SHARE_DIR); do \
		if [ -d "$$d" ] && [ -z "$$(ls -A "$$d")" ]; then rmdir "$$d"; fi; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr -Iinclude -Ipolicy -Idaemon --suppress=missingIncludeSystem \
		policy daemon cli

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
