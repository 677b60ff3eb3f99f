# bench/search.mk - `make bench-search`: p50/p95 of member search over 100 000 members
.PHONY: bench-search
bench-search: deps all
	BUILD=$(BUILD) bench/search.sh
