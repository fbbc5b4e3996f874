# xdpids build, test and benchmark entry points. Tests and benchmarks need
# root (BPF, XDP, network namespaces): run them with sudo or as root.

CLANG ?= clang-19
GO ?= go
BIN := bin/xdpids
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# xdpids version: git describe at build time ("devel" outside a checkout).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILDINFO := github.com/xdpids/xdpids/internal/buildinfo
LDFLAGS := -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).Commit=$(COMMIT)

.PHONY: all build install uninstall run generate check-generated test bench fuzz lint clean model dataset dataset-benign

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/xdpids

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary in $(PREFIX)/bin,
# the systemd unit in $(PREFIX)/lib/systemd/system (ExecStart follows
# PREFIX), /etc/xdpids/xdpids.yaml (never overwritten), /etc/xdpids/rules/,
# the logrotate file and /var/log/xdpids for EVE. /etc and /var stay put
# whatever PREFIX is: the unit names them.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
UNITDIR := $(PREFIX)/lib/systemd/system

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/xdpids
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)/etc/logrotate.d $(DESTDIR)/etc/xdpids/rules
	sed 's|/usr/local/bin/xdpids|$(BINDIR)/xdpids|g' dist/xdpids.service > $(DESTDIR)$(UNITDIR)/xdpids.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/xdpids.service
	install -m 0644 dist/xdpids.logrotate $(DESTDIR)/etc/logrotate.d/xdpids
	@if [ -e $(DESTDIR)/etc/xdpids/xdpids.yaml ]; then \
	  echo "keeping $(DESTDIR)/etc/xdpids/xdpids.yaml (dist/xdpids.yaml is the shipped one)"; \
	else \
	  install -m 0640 dist/xdpids.yaml $(DESTDIR)/etc/xdpids/xdpids.yaml; \
	fi
	install -d -m 0750 $(DESTDIR)/var/log/xdpids
	@echo "next: name your interfaces in /etc/xdpids/xdpids.yaml, then systemctl daemon-reload; systemctl enable --now xdpids"

# Removes what install put in place but the configuration and the logs.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/xdpids $(DESTDIR)$(UNITDIR)/xdpids.service $(DESTDIR)/etc/logrotate.d/xdpids

# Attach to IFACE with the built-in default configuration (Ctrl-C detaches).
run: build
	./$(BIN) run -i $(IFACE)

# Regenerate the committed BPF objects with the pinned clang (bpf/gen.go
# names clang-19; bpf2go needs llvm-strip-19 from llvm-19).
generate:
	@command -v $(CLANG) >/dev/null || { echo "$(CLANG) not found: apt-get install clang-19 llvm-19 libbpf-dev"; exit 1; }
	$(GO) generate ./bpf/

# CI: the committed objects must be what the pinned clang makes.
check-generated: generate
	git diff --exit-code -- bpf/ || { echo "generated BPF objects are stale: run make generate and commit"; exit 1; }

# Every test, then every test again under the race detector (the e2e
# tests then run a daemon built with -race too); allocation counts are
# asserted in the first run. One package at a time (-p 1): the end-to-end
# tests time real tools against live daemons, and on a 2-core machine a
# second package's BPF test runs beside them would be measuring the load.
# -timeout 45m: the end-to-end package alone takes 8-12 minutes on a
# slow 2-core VM, past go test's default 10 minutes.
test:
	$(GO) test -p 1 -count=1 -timeout 45m ./...
	$(GO) test -p 1 -race -count=1 -timeout 45m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...

# Short fuzzing pass over every fuzz target (seed corpora live in testdata/).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The embedded default model (userspace/learn/model/default.json): a
# random forest trained on the generated captures (labels in
# testdata/learn-golden.labels), every other capture of the corpus's
# suricata-verify tests as more benign traffic (odd lines of the sorted
# list; the even ones are held out), the captures of a `make dataset` run
# in MODEL_DATASET when it exists (with its labels.txt), and those of a
# `make dataset-benign` run in MODEL_BENIGN when it exists (the learning
# period: long normal traffic, all benign). Features in monitor mode
# (nothing dropped: every flow seen whole); a threshold and a repeat per
# class chosen out of fold (4 folds by capture). Deterministic: the same
# inputs and seed give the same file.
CORPUS ?= ../shared/corpus
SV_TRAIN = $(shell find $(CORPUS)/suricata-verify -name '*.pcap' 2>/dev/null | sort | awk 'NR%2==1')
MODEL_DATASET ?= dataset
MODEL_BENIGN ?= dataset-benign
MODEL_DS = $(if $(wildcard $(MODEL_DATASET)/labels.txt),--labels $(MODEL_DATASET)/labels.txt $(sort $(wildcard $(MODEL_DATASET)/*.pcap)))
MODEL_BN = $(sort $(wildcard $(MODEL_BENIGN)/*.pcap))
model:
	printf 'mode: monitor\n' > .model-monitor.yaml
	$(GO) run ./cmd/xdpids model train --keep-going --seed 1 --val-folds 4 --repeat-from 1,2,3 --config .model-monitor.yaml \
	  --labels testdata/learn-golden.labels -o userspace/learn/model/default.json testdata/golden/*.pcap $(SV_TRAIN) $(MODEL_DS) $(MODEL_BN)
	rm -f .model-monitor.yaml

# A labelled dataset made by real tools in network namespaces
# (dist/dataset.sh: benign web, DNS, ssh, chat and iperf3 traffic; nmap,
# hping3, hydra, slowhttptest and sqlmap attacks), captured to
# $(DATASET_DIR) with labels.txt (each tool run's address and time window)
# and captures.tsv (their durations), then its features (features.csv)
# and summary.txt (captures, flows per class, benign time). Bounded in time
# (about 3 minutes), test addresses only.
DATASET_DIR ?= dataset
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
dataset: build
	$(SUDO) env DATASET_DIR=$(DATASET_DIR) ./dist/dataset.sh
	./$(BIN) model features --keep-going --labels $(DATASET_DIR)/labels.txt -o $(DATASET_DIR)/features.csv $(DATASET_DIR)/*.pcap
	./dist/dataset-summary.sh $(DATASET_DIR) | tee $(DATASET_DIR)/summary.txt

# Long benign traffic only (dist/dataset.sh with DATASET_BENIGN_SECS): four
# captures of BENIGN_SECS seconds at once, one per victim address (web,
# DNS, repeated ssh sessions and chats, rare iperf3 runs, health checks):
# the learning period of `make model` and the false alerts per hour of
# the learned-detection table. 4 x BENIGN_SECS of benign traffic in
# BENIGN_SECS.
BENIGN_DIR ?= dataset-benign
BENIGN_SECS ?= 1800
dataset-benign: build
	$(SUDO) env DATASET_DIR=$(BENIGN_DIR) DATASET_BENIGN_SECS=$(BENIGN_SECS) ./dist/dataset.sh

clean:
	rm -rf bin
