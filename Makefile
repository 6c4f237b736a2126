# The two set-up commands for a newcomer: `make demo` and `make test`. Both install what is missing.
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=

.PHONY: deps build test demo bench validate-topics evaluate-model clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

# Serial: the suites start brokers, databases and whole systems in one process, and on a two-core
# machine running them together starves Swift's cooperative thread pool (two threads) for seconds.
test: deps
	python3 scripts/check-module-map.py
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	bash scripts/run-swift-tests.sh $(SWIFT_BUILD_FLAGS)
	python3 -m pytest -q Tests/Browser
	@$(MAKE) --no-print-directory validate-topics
	python3 -m pytest -q ml/tests

# Every event type the code emits, written by the tests, checked against topics/ with a real validator.
validate-topics:
	@if [ -d .build/topic-samples ]; then python3 scripts/validate-topic-samples.py .build/topic-samples; fi

demo:
	@bash scripts/demo.sh

# The recommender trainer (ml/) on generated data for five seeds, no database: HR@10 and NDCG@10 of
# the model, the popularity baseline and random. Fails when the model does not reach twice popularity.
evaluate-model: deps
	@python3 ml/evaluate.py

bench: deps
	$(SWIFT) run -c release lockstep-bench all

clean:
	rm -rf .build
