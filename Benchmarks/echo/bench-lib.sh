# Shared by the echo benchmark scripts (compare, local): starting a server and finding where it
# listens, stopping it with its CPU time, and medians. Source it; it defines functions only.

# start_server COMMAND...: starts the server in the background and waits for its "listening on" line.
# Sets server_pid, and server_target: the port, or unix:PATH for a Unix-domain socket.
start_server() {
    local out
    out=$(mktemp)
    "$@" >"$out" &
    server_pid=$!
    for _ in $(seq 200); do grep -q "^listening on" "$out" && break; sleep 0.05; done
    server_target=$(sed -n 's/^listening on \(unix:.*\)$/\1/p; s/^listening on [^u].*:\([0-9]*\)$/\1/p' "$out")
    rm -f "$out"
    if [ -z "$server_target" ]; then
        echo "benchmark: server did not start: $*" >&2
        kill "$server_pid" 2>/dev/null || true
        return 1
    fi
}

# server_cpu: prints the CPU seconds (user + system) the server and its children (a pre-fork server's
# workers) have used so far. Read before a load run, it lets start-up cost be left out.
server_cpu() {
    local ticks
    ticks=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    for child in $(pgrep -P "$server_pid" || true); do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$child/stat")))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN{print t/hz}'
}

# stop_server: SIGTERM, wait, and print the CPU seconds the server and its children used (server_cpu).
stop_server() {
    local cpu
    cpu=$(server_cpu)
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    echo "$cpu"
}

# cpu_stall_ms: how long, in all, tasks on this machine have waited for a CPU (Linux PSI,
# /proc/pressure/cpu; 0 where it is missing). Its growth over a pinned run says other work competed.
cpu_stall_ms() {
    awk -F'total=' '/^some/ {printf "%.0f\n", $2 / 1000}' /proc/pressure/cpu 2>/dev/null || echo 0
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
column() { tr ' ' '\n' <<<"$1" | grep . | median; }
