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
  want="$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # The exact versions of requirements.lock, each checked against its hash (scripts/lock
    # regenerates it), then the project itself on top without touching them.
    say "installing the locked dependencies (requirements.lock) and mailstorm into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes \
      -r requirements.lock 2>&1 | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . 2>&1 \
      | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -m pip check >/dev/null 2>&1 \
      || die "the dependencies in $VENV do not fit together ('$VENV/bin/python -m pip check' says why); is requirements.lock current? (scripts/lock)"
    "$VENV/bin/python" -c 'import harness, locust, aiosmtpd, testcontainers' 2>/dev/null \
      || die "installing the project into $VENV failed"
    echo "$want" > "$stamp"
  fi
}

ensure_chromium() {
  # ensure_chromium: the HTML report's tests (marker `browser`) render matrix.html in headless
  # Chromium, only from file:// URLs. On a Debian machine where we are root it installs Debian's
  # `chromium`; elsewhere it only says so, since only those tests need it (`-m "not browser"`).
  command -v chromium >/dev/null && return 0
  if is_debian_root; then
    say "installing Debian's chromium (headless rendering of matrix.html in the tests)"
    # In a subshell: apt_install exits on failure, and only the browser tests need chromium.
    ( apt_install chromium ) \
      || say "could not install chromium: the tests marked 'browser' will fail (-m 'not browser' skips them)"
  else
    say "chromium is missing: the tests marked 'browser' will fail; install it or run with -m 'not browser'"
  fi
}

ensure_test_tools() {
  # Tests drive real Postfix tools (smtp-source, smtp-sink) where they can, and render the HTML
  # report in a real browser.
  ensure_chromium
}

ensure_build_tools() {
  # ensure_build_tools: what image builds run on the host. A C compiler for the small preload
  # library (harness/containers/native_build.py: the images carry no compiler), and npm for
  # the npm packages of an image with a lock file (harness/containers/npm_packages.py: Haraka;
  # containers cannot reach the registry). Debian root: installed with apt; elsewhere said.
  if ! command -v cc >/dev/null && ! command -v gcc >/dev/null; then
    if is_debian_root; then
      apt_install gcc libc6-dev
    else
      echo "mailstorm: image builds need a C compiler (cc or gcc) on this machine" >&2
    fi
  fi
  if ! command -v npm >/dev/null; then
    if is_debian_root; then
      apt_install npm
    else
      echo "mailstorm: the Haraka image needs npm on this machine to fetch its packages" >&2
    fi
  fi
}

docker_answers() { docker info >/dev/null 2>&1; }

ensure_docker() {
  # ensure_docker: make sure `docker info` answers, so container tests and commands find an engine.
  # On a Debian machine where we are root (a fresh CI machine) it installs Debian's docker.io if
  # dockerd is missing and starts dockerd detached, since nothing else will start it; elsewhere it
  # only says what to start. Flags for dockerd (MAILSTORM_DOCKERD_FLAGS overrides them):
  #   --storage-driver=overlay2  say it explicitly so a silent fallback to vfs (a full copy of
  #                              every layer, slow image builds) fails loudly instead
  #                              (where / is itself overlayfs, set --storage-driver=vfs)
  # The log goes to MAILSTORM_DOCKERD_LOG (default /var/log/mailstorm-dockerd.log).
  local log="${MAILSTORM_DOCKERD_LOG:-/var/log/mailstorm-dockerd.log}" pid waited
  command -v docker >/dev/null && docker_answers && return 0
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "the Docker engine at DOCKER_HOST=$DOCKER_HOST does not answer: start it, or unset DOCKER_HOST"
  fi
  is_debian_root \
    || die "needs a running Docker engine: start one (Docker Desktop, 'systemctl start docker') or set DOCKER_HOST, then run again"
  if ! command -v dockerd >/dev/null; then
    say "installing Debian's docker.io (the Docker engine)"
    apt_install docker.io
  fi
  command -v docker >/dev/null || apt_install docker.io
  pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    say "dockerd (pid $pid) runs but does not answer yet; waiting for it"
  else
    say "starting dockerd in the background (log: $log)"
    # Detached (own session, no terminal, output to the log) so it outlives this script. Started
    # from `sh -c` so it is never a process-group leader, which would make setsid fork and $!
    # name a parent that exits at once.
    pid="$(sh -c 'setsid nohup dockerd "$@" </dev/null >>"$0" 2>&1 & echo $!' "$log" \
      ${MAILSTORM_DOCKERD_FLAGS:---storage-driver=overlay2})"  # unquoted: words on purpose
  fi
  # Bounded poll: up to 60 s, every 0.5 s; stop early when dockerd has died.
  for ((waited = 0; waited < 120; waited++)); do
    docker_answers && return 0
    kill -0 "$pid" 2>/dev/null \
      || die "dockerd exited while starting; the end of $log says why:
$(tail -n 15 "$log" 2>/dev/null)"
    sleep 0.5
  done
  die "dockerd (pid $pid) did not answer 'docker info' within 60 s; see $log"
}
