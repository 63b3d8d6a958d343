# Shared steps of scripts/serve and scripts/test. Each one installs what it needs when it
# is missing, so both commands work on a fresh machine with rustup and Node.js.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASMTIME_VERSION="48.0.8"
SPIN_WASM="$ROOT/target/wasm32-wasip2/release/remote_mcp_server.wasm"
SPIN_P2_WASM="$ROOT/target/wasm32-wasip2/spin-p2/remote_mcp_server.wasm"
# Test builds: the same with the conformance fixtures compiled in.
SPIN_FIXTURES_WASM="$ROOT/target/wasm32-wasip2/fixtures/remote_mcp_server.wasm"
SPIN_P2_FIXTURES_WASM="$ROOT/target/wasm32-wasip2/spin-p2-fixtures/remote_mcp_server.wasm"
HOSTED_WASM="$ROOT/target/wasm32-wasip2/hosted/remote_mcp_server.wasm"
HOSTED_FIXTURES_WASM="$ROOT/target/wasm32-wasip2/hosted-fixtures/remote_mcp_server.wasm"
PORTABLE_WASM="$ROOT/target/wasm32-wasip2/portable/remote_mcp_server.wasm"
# How to run the portable build under wasmtime serve: WASI CLI for Rust's std, and
# instances from a pool whose memory stays resident between requests (a new instance per
# request is then much cheaper; see docs/benchmarks.md).
WASMTIME_SERVE=(wasmtime serve -Scli -O pooling-allocator=y,pooling-memory-keep-resident=16777216,pooling-table-keep-resident=1048576)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_rust() {
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    say "adding the wasm32-wasip2 Rust target"
    rustup target add wasm32-wasip2
  fi
}

ensure_wasmtime() {
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  if ! wasmtime --version 2>/dev/null | grep -q "^wasmtime $WASMTIME_VERSION"; then
    say "installing wasmtime-cli $WASMTIME_VERSION from crates.io (about 10 minutes, once)"
    cargo install --locked "wasmtime-cli@$WASMTIME_VERSION"
  fi
}

# Installs Debian packages (as root, or through sudo).
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "${APT_UPDATED:-}" ]; then
    $sudo apt-get update
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "$@"
}

# Headless Chromium from Debian's packages, for the browser tests.
ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing chromium from Debian's packages (browser tests)"
    apt_install chromium
  fi
}

# redis-server from Debian's packages: the store two Spin nodes share in the tests.
ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    say "installing redis-server from Debian's packages (two Spin nodes on one store)"
    apt_install redis-server
  fi
}

# The local host (local-host/): the Spin build (WASIp3, or its WASIp2 variant) under
# wasmtime where Spin is not installed.
LOCAL_HOST="$ROOT/target/local-host/local-host"
build_local_host() {
  say "building the local host ($LOCAL_HOST; the first build takes several minutes)"
  cargo build --manifest-path "$ROOT/Cargo.toml" -p local-host --profile local-host
}

# Exports MCP_SCHEMA_DIR, the official MCP schemas the tests validate against: as given,
# else ../shared/mcp-schema beside the project, else downloaded (pinned commit, SHA-256
# checked) into target/mcp-schema. Offline, the schema checks are skipped with one line,
# except under CI=true, where that fails.
ensure_mcp_schemas() {
  if [ -n "${MCP_SCHEMA_DIR:-}" ]; then
    return
  fi
  if [ -d "$ROOT/../shared/mcp-schema" ]; then
    export MCP_SCHEMA_DIR="$(cd "$ROOT/../shared/mcp-schema" && pwd)"
    return
  fi
  local why
  if why="$(node "$ROOT/scripts/fetch-schemas.mjs" "$ROOT/target/mcp-schema" 2>&1)"; then
    export MCP_SCHEMA_DIR="$ROOT/target/mcp-schema"
  elif [ "${CI:-}" = "true" ]; then
    say "CI=true, and the schema checks may not be skipped: $why"
    return 1
  else
    say "schema checks skipped: no MCP_SCHEMA_DIR, no ../shared/mcp-schema, and $why"
    # The tests stay quiet about it: this line said it.
    export MCP_SCHEMA_SKIP_SAID=1
  fi
}

# The shipped components: the Spin build (default features, WASIp3), its WASIp2 variant,
# the build for hosted platforms (spin-hosted.toml) and the portable build (no Spin imports).
build_wasm() {
  ensure_rust
  local cargo=(cargo build --manifest-path "$ROOT/Cargo.toml" --target wasm32-wasip2)
  say "building the Spin component, WASIp3 ($SPIN_WASM)"
  "${cargo[@]}" --release
  say "building the Spin component's WASIp2 variant ($SPIN_P2_WASM)"
  "${cargo[@]}" --profile spin-p2 --features p2
  say "building the component for hosted platforms ($HOSTED_WASM)"
  "${cargo[@]}" --profile hosted --features hosted
  say "building the portable component ($PORTABLE_WASM)"
  "${cargo[@]}" --profile portable --no-default-features
}

# The test builds: the Spin builds with the conformance fixtures compiled in.
build_fixtures_wasm() {
  ensure_rust
  local cargo=(cargo build --manifest-path "$ROOT/Cargo.toml" --target wasm32-wasip2)
  say "building the Spin component with the conformance fixtures ($SPIN_FIXTURES_WASM)"
  "${cargo[@]}" --profile fixtures --features conformance-fixtures
  say "building its WASIp2 variant with the conformance fixtures ($SPIN_P2_FIXTURES_WASM)"
  "${cargo[@]}" --profile spin-p2-fixtures --features p2,conformance-fixtures
  say "building the build for hosted platforms with the conformance fixtures ($HOSTED_FIXTURES_WASM)"
  "${cargo[@]}" --profile hosted-fixtures --features hosted,conformance-fixtures
}

# A manifest like spin.toml (or FROM, another manifest) whose component is another build
# (for `spin up --from` and the local host): written to target/e2e/NAME.toml, its path printed.
#   manifest_for NAME WASM [FROM]
manifest_for() {
  local manifest="$ROOT/target/e2e/$1.toml"
  mkdir -p "$ROOT/target/e2e"
  sed "s#^source = \".*\"#source = \"$2\"#" "${3:-$ROOT/spin.toml}" >"$manifest"
  echo "$manifest"
}

# A free TCP port on 127.0.0.1.
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits until an HTTP server answers at $1.
wait_for() {
  node -e '
    const url = process.argv[1], until = Date.now() + 90000;
    (async function poll() {
      try { await fetch(url); process.exit(0); }
      catch { if (Date.now() > until) { console.error("no answer from " + url); process.exit(1); } setTimeout(poll, 100); }
    })();' "$1"
}

# `--env NAME=value` for every MCP_* variable set in this shell, for wasmtime serve.
mcp_env_args() {
  local name
  for name in $(compgen -e | grep '^MCP_' || true); do
    printf -- '--env\n%s=%s\n' "$name" "${!name}"
  done
}

# Starts `spin up` in its own process group (Spin runs its trigger as a child process, and
# a killed parent would leave the trigger serving), its state under target/ so that
# nothing lands in .spin/ (SPIN_MANIFEST: another manifest). Sets SPIN_PID; stop it with
# stop_group "$SPIN_PID".
#   start_spin NAME ADDRESS [spin up options...]
# How `spin up` runs the server. Spin drops a WASIp3 instance, with whatever it still runs,
# 1 s after its last request in flight ended, or at once when that was its 128th request; a
# task whose client closed its answer stream runs only as long as its instance lives. These
# keep an idle instance ten minutes and retire it after 10,000 requests instead
# (docs/deploy.md, "Instances and faults"). Requests at once per instance stay at Spin's
# 16: 32 made 1,000 idle streams cheaper but cost active SSE sessions on Redis (503s at
# 300 in one of two runs; docs/deploy.md has the measurements).
SPIN_UP_FLAGS=(--idle-instance-timeout 600 --max-instance-reuse-count 10000)

start_spin() {
  local name="$1" address="$2"
  shift 2
  local state="$ROOT/target/e2e/$name"
  rm -rf "$state"
  mkdir -p "$state"
  setsid spin up --from "${SPIN_MANIFEST:-$ROOT/spin.toml}" --listen "$address" --state-dir "$state" \
    "${SPIN_UP_FLAGS[@]}" "$@" \
    >"$state.log" 2>&1 &
  SPIN_PID=$!
}

# The longest key and the largest value in Redis database DB on PORT, printed; fails when
# either is over the hosted platforms' limits (keys 255 bytes, values 1 MB). One script
# run inside Redis walks the database with SCAN.
#   store_sizes PORT DB
store_sizes() {
  local script='
    local longest, key, largest, holder, cursor = 0, "", 0, "", "0"
    repeat
      local page = redis.call("SCAN", cursor, "COUNT", 1000)
      cursor = page[1]
      for _, k in ipairs(page[2]) do
        if #k > longest then longest, key = #k, k end
        if redis.call("TYPE", k).ok == "string" then
          local size = redis.call("STRLEN", k)
          if size > largest then largest, holder = size, k end
        end
      end
    until cursor == "0"
    return {longest, key, largest, holder}'
  local sizes
  mapfile -t sizes < <(redis-cli -p "$1" -n "$2" EVAL "$script" 0)
  say "Redis database $2: longest key ${sizes[0]} bytes (${sizes[1]}), largest value ${sizes[2]} bytes (${sizes[3]})"
  if [ "${sizes[0]:-999}" -gt 255 ] || [ "${sizes[2]:-1000001}" -gt 1000000 ]; then
    say "over the hosted platforms' limits (keys 255 bytes, values 1 MB)"; return 1
  fi
}

# SIGKILL to a process group (`spin up` ignores SIGTERM while streams are open).
stop_group() {
  kill -KILL -- "-$1" 2>/dev/null || true
}
