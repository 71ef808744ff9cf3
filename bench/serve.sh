#!/usr/bin/env bash
# Serving benchmark: requests/s and CPU per request for 200 (gzip) and 304 answers,
# from `syndicate serve` and from Debian nginx serving the same built files, measured
# with Debian wrk in the same run on 127.0.0.1.
#
# Both servers get one process/worker and one CPU (taskset), wrk gets the other CPU;
# access logs are off on both. CPU per request = the server processes' user+system
# time during the run (from /proc) divided by the requests wrk completed. Each case
# runs DURATION seconds (default 10), REPEATS times (default 3, the two servers taking
# turns), and the median of each figure is printed with its ratio to nginx, so the whole
# script takes about three minutes.
#
# syndicate answers the feed from memory on the connection itself (docs/serving.md);
# nginx reads the file each time (sendfile, gzip_static), as it is configured for
# static files out of the box.
#
# wrk sends the same request bytes every time, as one poller on a kept-alive connection
# does; `syndicate serve` then answers from what it parsed before (docs/serving.md). The
# cases 200v and 304v give every request its own User-Agent (a wrk script), so each one
# is parsed: CASES="200 304 200v 304v" bench/serve.sh measures both kinds.
#
# Needs root for apt-get when wrk or nginx is missing (not part of CI).
# Usage: [CASES="200 304 304v"] bench/serve.sh [DURATION_SECONDS] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
REPEATS="${2:-3}"
CASES="${CASES:-200 304}"
CONNECTIONS=32
PY="$(realpath -s "$(command -v "${PYTHON:-.venv/bin/python}")")"  # keep the venv symlink

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

WORK="$(mktemp -d /tmp/bench-serve.XXXXXX)"
chmod 755 "$WORK"  # nginx workers run as nobody and must reach the files
SYN_PID=""
cleanup() {
  [ -n "$SYN_PID" ] && kill "$SYN_PID" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- the same built files for both servers ------------------------------------------------
mkdir -p "$WORK/instance"
cp -r syndicate.toml feeds content "$WORK/instance/"
(cd "$WORK/instance" && "$PY" -m syndicate -q ingest >/dev/null && "$PY" -m syndicate -q build >/dev/null)
OUT="$WORK/instance/public"
chmod -R a+rX "$WORK/instance"

# Every request its own User-Agent, for the cases 200v and 304v.
cat >"$WORK/varied.lua" <<'EOF'
counter = 0
request = function()
  counter = counter + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["User-Agent"] = "reader/" .. counter
  return wrk.format(nil, nil, headers)
end
EOF

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SYN_PORT="$(free_port)"
NGX_PORT="$(free_port)"

# --- servers, each pinned to CPU 0 ---------------------------------------------------------
(cd "$WORK/instance" && exec taskset -c 0 "$PY" -m syndicate -q serve --port "$SYN_PORT" --no-access-log) \
  >"$WORK/syndicate.log" 2>&1 &
SYN_PID=$!

mkdir -p "$WORK/nginx-tmp"
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$NGX_PORT;
    root $OUT;
    location /feeds/ {
      gzip_static on;
      gzip_vary on;
      types { application/rss+xml xml; application/atom+xml atom; application/feed+json json; }
      charset utf-8;
      charset_types application/rss+xml application/atom+xml application/feed+json;
      add_header Cache-Control "public, max-age=900";
    }
    location / { return 404; }
  }
}
EOF
taskset -c 0 "$NGINX" -c "$WORK/nginx.conf" -p "$WORK"

for _ in $(seq 1 200); do
  curl -fs "http://127.0.0.1:$SYN_PORT/healthz" >/dev/null 2>&1 && curl -fs -o /dev/null "http://127.0.0.1:$NGX_PORT/feeds/all.xml" && break
  sleep 0.1
done

pids_of() {  # the server's processes: syndicate's one, or nginx's master and worker
  if [ "$1" = syndicate ]; then echo "$SYN_PID"; else
    local master; master="$(cat "$WORK/nginx.pid")"; echo "$master $(pgrep -P "$master" | tr '\n' ' ')"; fi
}
cpu_ticks() {  # utime + stime of the given pids, in clock ticks
  local total=0
  local utime stime
  for pid in "$@"; do
    read -r utime stime < <(cut -d' ' -f14,15 "/proc/$pid/stat")
    total=$((total + utime + stime))
  done
  echo "$total"
}
TICKS="$(getconf CLK_TCK)"

run_case() {  # server port case -> "requests/s cpu_us_per_request"
  local server="$1" port="$2" case="${3%v}" url="http://127.0.0.1:$2/feeds/all.xml"
  local headers=(-H "Accept-Encoding: gzip") script=()
  [ "$3" != "$case" ] && script=(-s "$WORK/varied.lua")
  if [ "$case" = 304 ]; then
    local etag
    etag="$(curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')"
    headers+=(-H "If-None-Match: $etag")
    code="$(curl -s -o /dev/null -w '%{http_code}' "${headers[@]}" "$url")"
    [ "$code" = 304 ] || { echo "expected 304 from $server, got $code" >&2; exit 1; }
  else
    enc="$(curl -s -D - -o /dev/null "${headers[@]}" "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding"{print $2}')"
    [ "$enc" = gzip ] || { echo "expected gzip from $server" >&2; exit 1; }
  fi
  local pids; pids="$(pids_of "$server")"
  local before; before="$(cpu_ticks $pids)"
  local out; out="$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${script[@]}" "${headers[@]}" "$url")"
  local after; after="$(cpu_ticks $pids)"
  local requests rps
  requests="$(echo "$out" | awk '/requests in/{print $1}')"
  rps="$(echo "$out" | awk '/Requests\/sec/{print $2}')"
  "$PY" -c "print(f'{$rps:.0f} {($after-$before)/$TICKS/$requests*1e6:.1f}')"
}

echo "feed: /feeds/all.xml ($(stat -c %s "$OUT/feeds/all.xml") bytes, gzip $(stat -c %s "$OUT/feeds/all.xml.gz")); wrk -t1 -c$CONNECTIONS -d${DURATION}s; 1 CPU per server; median of $REPEATS runs"
printf '%-10s %-6s %12s %14s   %s\n' server answer "requests/s" "CPU us/request" "(each run)"
declare -A RESULT
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for case in $CASES; do
  declare -A RUNS_RPS=() RUNS_CPU=()
  for _ in $(seq 1 "$REPEATS"); do
    for server in syndicate nginx; do
      port="$SYN_PORT"; [ "$server" = nginx ] && port="$NGX_PORT"
      read -r rps cpu < <(run_case "$server" "$port" "$case")
      RUNS_RPS[$server]="${RUNS_RPS[$server]:-} $rps"
      RUNS_CPU[$server]="${RUNS_CPU[$server]:-} $cpu"
    done
  done
  for server in syndicate nginx; do
    rps="$(echo ${RUNS_RPS[$server]} | median)"
    cpu="$(echo ${RUNS_CPU[$server]} | median)"
    RESULT["$server-$case"]="$rps $cpu"
    label="$case"; [ "${case%v}" = 200 ] && label="$case gz"
    printf '%-10s %-6s %12s %14s   %s\n' "$server" "$label" "$rps" "$cpu" "${RUNS_RPS[$server]# } / ${RUNS_CPU[$server]# }"
  done
done
for case in $CASES; do
  read -r s_rps s_cpu <<<"${RESULT[syndicate-$case]}"
  read -r n_rps n_cpu <<<"${RESULT[nginx-$case]}"
  "$PY" -c "print(f'ratio syndicate/nginx, $case: requests/s {$s_rps/$n_rps:.3f} (goal >= 0.5), CPU per request {$s_cpu/$n_cpu:.1f}x')"
done
