# Functions the ./mailstorm bootstrap uses; sourced, not run. Each says what it needs when it
# cannot do its job, instead of failing somewhere later.

VENV="${MAILSTORM_VENV:-$PWD/.venv}"

say() { printf 'mailstorm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

is_debian_root() { [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; }

apt_install() {
  # apt_install PACKAGE...: install Debian packages (root on Debian only).
  is_debian_root || die "needs the Debian packages '$*': install them, then run again"
  if [ ! -e /var/lib/apt/lists/lock ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] \
     || [ -n "${MAILSTORM_APT_UPDATE:-}" ]; then
    apt-get update -qq >/dev/null
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } \
    || die "could not install '$*' with apt-get"
}

find_python() {
  local candidate
  for candidate in "${MAILSTORM_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 \
       && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

ensure_venv() {
  local python stamp want
  if [ ! -x "$VENV/bin/python" ]; then
    python="$(find_python)" || {
      is_debian_root && apt_install python3 python3-venv python3-pip && python="$(find_python)"
    } || die "needs Python >= 3.11 with venv (set MAILSTORM_PYTHON to one)"
    say "creating $VENV with $("$python" --version)"
    "$python" -m venv "$VENV" || {
      is_debian_root && apt_install python3-venv && "$python" -m venv "$VENV"
    } || die "could not create a virtualenv with $python"
  fi
  stamp="$VENV/.mailstorm-installed"
  want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing mailstorm and its dependencies into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 \
      | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -c 'import harness' 2>/dev/null || die "installing the project into $VENV failed"
    echo "$want" > "$stamp"
  fi
}

ensure_test_tools() {
  # Tests drive real Postfix tools (smtp-source, smtp-sink) where they can.
  :
}
