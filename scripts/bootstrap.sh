#!/usr/bin/env bash
# Brings a fresh machine to the point where `make demo` and `make test` work: uv, the locked
# environment, and (where we are root with apt) Debian's prometheus, chromium and kubectl, once.
# Prints the uv command to use on its last line, so the Makefile needs no guessing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "bootstrap: $*" >&2; }

find_uv() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  for candidate in "$HOME/.local/bin/uv" "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)/uv"; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  return 1
}

uv_bin=$(find_uv || true)
if [ -z "$uv_bin" ]; then
  log "installing uv from PyPI"
  python3 -m pip install --quiet --user uv >&2 2>/dev/null || python3 -m pip install --quiet uv >&2
  uv_bin=$(find_uv) || { log "uv could not be installed (pip install uv failed)"; exit 1; }
fi

"$uv_bin" sync --frozen --quiet >&2

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${missing[*]} (once)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 \
      || log "could not install ${missing[*]}; the sandbox falls back to its built-in stand-ins"
  else
    log "not root with apt: ${missing[*]} not installed; the sandbox falls back to its built-in stand-ins"
  fi
fi
echo "$uv_bin"
