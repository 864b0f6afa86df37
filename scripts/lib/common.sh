# Shared by the scripts in scripts/: logging and the pinned defaults. Source it; do not run it.
# shellcheck shell=bash

AGENTSCHED_DEFAULT_KERNEL=7.3.4+deb13
# The kernel suite also runs on this older sched_ext kernel (kfunc and struct changes since 6.13).
AGENTSCHED_OLDER_TEST_KERNEL=6.19.14+deb13

log()  { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "${0##*/}" "$*" >&2; }
die()  { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# For the socket benchmarks (bench-api, bench-fuzz): starts agentschedd in mode $1 in a scratch
# directory, with the per-connection rate limit out of the way (they measure capacity, or fuzz
# the handling, not the limit), waits for its socket and checks its mode. Sets dir (the socket is
# $dir/s.sock, the log $dir/daemon.log) and daemon (its pid); on exit stops it and removes dir.
start_bench_daemon() {
	local mode=$1 bin=$root/artifacts/bin
	dir=$(mktemp -d /tmp/agentsched-bench.XXXXXX)
	"$bin/agentschedd" --Scheduler:Mode="$mode" --Api:SocketPath="$dir/s.sock" --Api:SocketGroup= \
		--State:Directory="$dir/state" --Scheduler:PinPath="/sys/fs/bpf/agentsched-bench-$$" \
		--Api:MaxRequestsPerSecond=10000000 >"$dir/daemon.log" 2>&1 &
	daemon=$!
	trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$dir"' EXIT
	for _ in $(seq 600); do [ -S "$dir/s.sock" ] && break; sleep 0.1; done
	[ -S "$dir/s.sock" ] || { cat "$dir/daemon.log" >&2; die "agentschedd did not start"; }
	"$bin/agentsched-workload" api --socket "$dir/s.sock" '{"v":1,"op":"status"}' | grep -q "\"mode\":\"$mode\"" \
		|| { cat "$dir/daemon.log" >&2; die "agentschedd is not in $mode mode"; }
}
