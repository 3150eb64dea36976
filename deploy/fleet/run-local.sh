#!/usr/bin/env bash
# run-local.sh: a verifier fleet on this machine, without docker: Redis (on
# a Unix socket), two `snp-vtpm serve --redis` replicas and a round-robin
# proxy (deploy/fleet/proxy) in front of them. Ctrl-C stops everything.
#
#   deploy/fleet/run-local.sh                      # demo: trusts the emulated chain
#   snp-vtpm --emulate attest --server http://127.0.0.1:8080   # (a cgo build)
#
# Environment:
#   PORT         the proxy's port (default 8080); the replicas listen on PORT+1, PORT+2
#   SERVE_ARGS   trust options of the replicas (default: --trust-emulated --offline,
#                for the emulator demo; e.g. "--policy policy.json" for real CVMs)
#   SECRET_FILE  the secret to release (default: a random one in the work directory)
#   BIN          snp-vtpm binary (default: go build ./cmd/snp-vtpm)
#   PROXY_BIN    proxy binary (default: go build ./deploy/fleet/proxy)
#   REDIS_SERVER redis-server binary (default: from PATH)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
port=${PORT:-8080}
serve_args=${SERVE_ARGS:---trust-emulated --offline}
redis_server=${REDIS_SERVER:-$(command -v redis-server || true)}
if [[ -z $redis_server ]]; then
	echo "run-local.sh: redis-server not found (apt-get install redis-server, or set REDIS_SERVER)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/snp-vtpm-fleet.XXXXXX")
pids=()
cleanup() {
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

bin=${BIN:-}
proxy_bin=${PROXY_BIN:-}
if [[ -z $bin || -z $proxy_bin ]]; then
	echo "building snp-vtpm and the proxy" >&2
	(cd "$root" && go build -o "$work/snp-vtpm" ./cmd/snp-vtpm && go build -o "$work/proxy" ./deploy/fleet/proxy)
	bin=${bin:-$work/snp-vtpm}
	proxy_bin=${proxy_bin:-$work/proxy}
fi

secret=${SECRET_FILE:-}
if [[ -z $secret ]]; then
	secret=$work/secret
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret")
fi

sock=$work/redis.sock
"$redis_server" --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no \
	--dir "$work" --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
[[ -S $sock ]] || { echo "run-local.sh: redis-server did not start (see $work/redis.log)" >&2; exit 1; }
echo "redis: unix://$sock"

backends=()
for i in 1 2; do
	addr=127.0.0.1:$((port + i))
	# shellcheck disable=SC2086 # SERVE_ARGS is a list of options
	"$bin" serve --listen "$addr" --secret-file "$secret" --redis "unix://$sock" \
		--trust-forwarded-for --cache-dir "$work/cache$i" $serve_args 2>"$work/replica$i.log" &
	pids+=($!)
	backends+=("http://$addr")
done
for b in "${backends[@]}"; do
	for _ in $(seq 600); do curl -fsS -o /dev/null "$b/readyz" 2>/dev/null && break; sleep 0.05; done
	curl -fsS -o /dev/null "$b/readyz" || {
		echo "run-local.sh: replica $b not ready after 30 s; its log:" >&2
		tail -n 5 "$work"/replica*.log >&2
		exit 1
	}
	echo "replica: $b"
done

"$proxy_bin" -listen "127.0.0.1:$port" -backends "$(IFS=,; echo "${backends[*]}")" &
pids+=($!)
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.05; done
echo "fleet ready: http://127.0.0.1:$port (logs in $work; Ctrl-C stops)"
wait
