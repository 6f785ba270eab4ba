#!/usr/bin/env bash
# Installs what the feature-flag tests need to run a real Unleash server: PostgreSQL's server
# binaries (Debian's `postgresql`) and a pinned `unleash-server` from npm, cached under
# ~/.cache/shipdeck-test so CI and later runs reuse it. Idempotent; prints what it did.
set -euo pipefail

UNLEASH_VERSION="7.5.1"          # 7.5.x runs on Node 20; 7.6+ needs Node 22
PG_MAJOR="15"
CACHE="${SHIPDECK_TEST_CACHE:-$HOME/.cache/shipdeck-test}"
UNLEASH_DIR="$CACHE/unleash-server-$UNLEASH_VERSION"

# Installing system packages needs root; without it, say what is missing and let the tests
# report it (they skip locally and fail in CI, where this runs as root).
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-services: cannot install $* (needs root and apt-get); the Unleash tests will say so" >&2
    exit 0
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

have_pg() { [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/initdb" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

if ! have_pg; then
  echo "install-test-services: installing PostgreSQL (Debian postgresql)"
  apt_install postgresql
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-test-services: installing nodejs and npm (Debian)"
  apt_install nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "install-test-services: node $(node --version) is older than 20, which unleash-server $UNLEASH_VERSION needs" >&2
  [ -n "${CI:-}" ] && exit 1
  exit 0
fi

if [ ! -f "$UNLEASH_DIR/.installed" ]; then
  echo "install-test-services: installing unleash-server@$UNLEASH_VERSION into $UNLEASH_DIR"
  mkdir -p "$UNLEASH_DIR"
  (cd "$UNLEASH_DIR" && [ -f package.json ] || echo '{"name":"shipdeck-test-unleash","private":true}' > "$UNLEASH_DIR/package.json")
  (cd "$UNLEASH_DIR" && npm install --no-save --silent --no-audit --no-fund "unleash-server@$UNLEASH_VERSION")
  touch "$UNLEASH_DIR/.installed"
fi
echo "install-test-services: unleash-server $UNLEASH_VERSION at $UNLEASH_DIR"
