# Sourced by the README's commands (scripts/test.sh, scripts/demo.sh): puts a Node.js >= 22 first
# on PATH. probe-ops needs Node 22 or newer (Node 20 has been past its end of life since April 2026);
# where the machine's own Node is older, or missing, Node 22 is fetched through npm (the `node`
# package) into .tools/, once, and used from there. `use_node 24` does the same for Node 24.
# Usage: . scripts/use-node.sh; use_node 22

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# 22.15 is the first Node 22 with zstd in node:zlib: an older 22 counts as too old.
node_minor() { node -p 'process.versions.node.split(".")[1]' 2>/dev/null || echo 0; }

use_node() {
  local want=$1 root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  local have
  have=$(node_major)
  if [ "$have" = 22 ] && [ "$(node_minor)" -lt 15 ]; then have=0; fi
  if [ "$have" = "$want" ] || { [ "$have" -ge "$want" ] && [ "${2:-}" != exact ]; }; then return 0; fi
  local dir="$root/.tools/node-$want"
  if [ ! -x "$dir/node_modules/.bin/node" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      # Debian's own nodejs is older than 22; it is only what runs npm to fetch Node $want.
      echo "== installing npm (Debian) to fetch Node.js $want"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo "== fetching Node.js $want through npm into $dir (the machine has $(node --version 2>/dev/null || echo none))"
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"private":true}' > "$dir/package.json"
    (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error "node@$want" >/dev/null)
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
  if [ "$(node_major)" != "$want" ]; then
    echo "could not provide Node.js $want (node on PATH is $(node --version 2>/dev/null || echo missing))" >&2
    return 1
  fi
}
