# Shared steps of scripts/serve and scripts/test. Each one installs what it needs when it
# is missing, so both commands work on a fresh machine with rustup and Node.js.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASMTIME_VERSION="48.0.8"
SPIN_WASM="$ROOT/target/wasm32-wasip2/release/remote_mcp_server.wasm"
PORTABLE_WASM="$ROOT/target/wasm32-wasip2/portable/remote_mcp_server.wasm"
# How to run the portable build under wasmtime serve: WASI CLI for Rust's std, and
# instances from a pool whose memory stays resident between requests (a new instance per
# request is then much cheaper; see the benchmarks in README.md).
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

# Headless Chromium from Debian's packages, for the browser tests.
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then
    return
  fi
  say "installing chromium from Debian's packages (browser tests)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium
}

# The Spin build (default features) and the portable build (no Spin imports).
build_wasm() {
  ensure_rust
  say "building the Spin component ($SPIN_WASM)"
  cargo build --manifest-path "$ROOT/Cargo.toml" --target wasm32-wasip2 --release
  say "building the portable component ($PORTABLE_WASM)"
  cargo build --manifest-path "$ROOT/Cargo.toml" --target wasm32-wasip2 --profile portable --no-default-features
}

# A free TCP port on 127.0.0.1.
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits until an HTTP server answers at $1.
wait_for() {
  node -e '
    const url = process.argv[1], until = Date.now() + 30000;
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
