# tests/lib.sh - the one library every shell suite sources (interop, oneshot,
# push, copy, soak, conformance, with-server.sh, bench/lib.sh). What a suite's own
# lib.sh keeps is only what belongs to that suite (registry stand-ins, docker
# containers...). The Python counterpart is tests/e2e/phtest.py.
#
# Source it from a script running with `set -uo pipefail` (no -e: a failed
# check is counted, not fatal). Sourcing installs the EXIT trap (cleanups,
# then the work dir); then call
#   ph_init NAME [LABEL]   NAME names the summary line, LABEL (default NAME)
#                          the work dir. Afterwards:
#     RAND  random hex suffix: every repository, tag, docker object and host
#           name a run makes carries it
#     WORK  temp dir, removed at exit unless PH_KEEP is set (or PH_KEEP_FAILED
#           and a check failed); the suite maps its own knob onto these
#   ph_tools             TOOLS (mk/tools.sh's bin dir), prepended to PATH
#   ph_binary            PH, the binary under test ($PACKHELPER, default
#                        build/packhelper; `make` if missing)
# Checks print "ok - ..." / "not ok - ..."; ph_finish prints
# "NAME: N passed, N failed" (the form .ci/run and the suite runners sum) and
# returns non-zero if any check failed.
# shellcheck shell=bash disable=SC2034  # variables set here are for the caller

PH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PH_ROOT=$(cd "$PH_LIB/.." && pwd)
PH_PASS=0
PH_FAIL=0
PH_NAME=${PH_NAME:-test}
PH_CLEANUP=()
PH_KEEP=${PH_KEEP:-}
PH_KEEP_FAILED=${PH_KEEP_FAILED:-}
PH=${PACKHELPER:-$PH_ROOT/build/packhelper}
PH_ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json'

# linux/arm64 under qemu: ph_binfmt_up (tests/binfmt.sh)
source "$PH_LIB/binfmt.sh"

ph_log() { printf '# %s\n' "$*" >&2; }
# random lowercase hex (valid in repository names, tags and host names)
ph_rand() { od -An -N5 -tx1 /dev/urandom | tr -d ' \n'; }
ph_now_ms() { local t=$EPOCHREALTIME; echo $((${t%.*} * 1000 + 10#${t#*.} / 1000)); }
# ph_sha256 [FILE...]: hex digests (of stdin without FILE)
ph_sha256() { sha256sum "$@" | cut -d' ' -f1; }

ph_init() {
  PH_NAME=$1
  RAND=$(ph_rand)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ph-${2:-$1}.XXXXXX")
  chmod 755 "$WORK" # containers (uid 65532) read files in it
}

ph_tools() {
  TOOLS=$("$PH_ROOT/mk/tools.sh") || { ph_not_ok "mk/tools.sh"; ph_finish; exit 1; }
  export PATH="$TOOLS:$PATH"
}

ph_binary() {
  [[ -x $PH ]] && return 0
  ph_log "building $PH"
  make -C "$PH_ROOT" >/dev/null || { ph_not_ok "make"; ph_finish; exit 1; }
}

# ---- cleanup: one registry, run in reverse order at exit, errors ignored ------
ph_cleanup() { PH_CLEANUP+=("$*"); }

ph__exit() {
  local rc=$? i
  rm -f "$PH_MISSING"
  for ((i = ${#PH_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${PH_CLEANUP[i]}" >/dev/null 2>&1 || true
  done
  if [[ -n ${WORK:-} && -z $PH_KEEP && ! ($PH_FAIL -gt 0 && -n $PH_KEEP_FAILED) ]]; then
    rm -rf "$WORK"
  elif [[ -n ${WORK:-} ]]; then
    ph_log "work dir kept: $WORK"
  fi
  exit "$rc"
}
trap ph__exit EXIT
trap 'exit 130' INT TERM HUP

# ---- checks -------------------------------------------------------------------
ph_ok() { PH_PASS=$((PH_PASS + 1)); printf 'ok - %s\n' "$*"; }
ph_not_ok() { PH_FAIL=$((PH_FAIL + 1)); printf 'not ok - %s\n' "$*"; }

# A call to a helper that does not exist (a renamed check, a typo) must fail
# the suite, not drop its check without a word.  Bash runs this handler in a
# subshell, so it leaves its mark in a file that ph_finish counts.
PH_MISSING=$(mktemp "${TMPDIR:-/tmp}/ph-missing.XXXXXX")
command_not_found_handle() {
  printf 'not ok - command not found: %s\n' "$1" >&2
  printf '%s\n' "$1" >>"$PH_MISSING"
  return 127
}

ph_finish() {
  local missing
  missing=$(wc -l <"$PH_MISSING" 2>/dev/null || echo 0)
  rm -f "$PH_MISSING"
  PH_FAIL=$((PH_FAIL + missing))
  printf '%s: %d passed, %d failed\n' "$PH_NAME" "$PH_PASS" "$PH_FAIL"
  [[ $PH_FAIL -eq 0 ]]
}

# ph_require DESC CMD...: CMD must succeed for the rest of the script to mean
# anything; otherwise DESC fails and the script ends with its summary.
ph_require() {
  local desc=$1
  shift
  "$@" && return 0
  ph_not_ok "$desc"
  ph_finish
  exit 1
}

ph__show() { printf '%s' "$1" | tr '\n' '|' | cut -c1-"${2:-400}"; }

# ph_eq DESC EXPECTED ACTUAL (EXPECTED must not be empty)
ph_eq() {
  if [[ -n $2 && $2 == "$3" ]]; then
    ph_ok "$1"
  else
    ph_not_ok "$1 (expected '$2', got '$(ph__show "$3")')"
    return 1
  fi
}

# ph_lt / ph_le / ph_ge DESC VALUE LIMIT (integers)
ph__cmp() {
  local op=$1 desc=$2 v=$3 lim=$4
  if [[ $v =~ ^[0-9]+$ ]] && (("$v" "$op" "$lim")); then
    ph_ok "$desc"
  else
    ph_not_ok "$desc (got '$v', want $op $lim)"
    return 1
  fi
}
ph_lt() { ph__cmp '<' "$@"; }
ph_le() { ph__cmp '<=' "$@"; }
ph_ge() { ph__cmp '>=' "$@"; }

# ph_match DESC ERE TEXT (grep -E on any line) / ph_nomatch DESC ERE TEXT
ph_match() { ph__has -E "$@"; }
ph_nomatch() {
  if ! grep -Eq -- "$2" <<<"$3"; then
    ph_ok "$1"
  else
    ph_not_ok "$1 (/$2/ found: $(grep -Em2 -- "$2" <<<"$3" | tr '\n' '|' | cut -c1-300))"
    return 1
  fi
}

# ph_contains DESC LINE TEXT: LINE is one whole line of TEXT
ph_contains() { ph__has -xF "$@"; }

# ph__has GREP-FLAGS DESC PATTERN TEXT
ph__has() {
  if grep -q "$1" -- "$3" <<<"$4"; then
    ph_ok "$2"
  else
    ph_not_ok "$2 ('$3' not in: $(ph__show "$4"))"
    return 1
  fi
}

# ph_nofixed DESC STRING FILE: STRING does not occur in FILE
ph_nofixed() {
  if [[ -n $2 ]] && ! grep -qF -- "$2" "$3"; then
    ph_ok "$1"
  else
    ph_not_ok "$1 (found in $(basename "$3"): $(grep -m1 -F -- "$2" "$3" | cut -c1-200))"
    return 1
  fi
}

# ph_run DESC CMD...: ok if CMD exits 0; its output goes to $WORK/last.log,
# whose tail is shown when it fails
ph_run() {
  local desc=$1
  shift
  if "$@" >"$WORK/last.log" 2>&1; then
    ph_ok "$desc"
  else
    ph_not_ok "$desc (exit $?: $*)"
    sed 's/^/#   /' "$WORK/last.log" | tail -n 15 >&2
    return 1
  fi
}

# ph_true DESC CMD...: like ph_run, quiet; for predicates
ph_true() {
  local desc=$1
  shift
  if "$@" >/dev/null 2>&1; then ph_ok "$desc"; else ph_not_ok "$desc"; return 1; fi
}

# ph_suite_script NAME CMD...: one script of a suite runner (an all.sh): its
# ok / not ok lines are shown, the counts of its "X: N passed, N failed" line
# are added to this run's; a line of this suite's own name is shown only as a
# comment (.ci/run would count it twice). A script that ends without that
# line, or exits non-zero with no failed check, is a failed check.
ph_suite_script() {
  local name=$1 out=$WORK/$1.out rc line p f t0=$SECONDS
  shift
  "$@" >"$out" 2>"$WORK/$name.err"
  rc=$?
  grep -Ev "^$PH_NAME: [0-9]+ passed, [0-9]+ failed$" "$out"
  tail -n 40 "$WORK/$name.err" >&2
  line=$(grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
  if [[ -z $line ]]; then
    ph_not_ok "$name died (exit $rc) before its summary line"
    return 1
  fi
  read -r _ p _ f _ <<<"$line"
  PH_PASS=$((PH_PASS + p)) PH_FAIL=$((PH_FAIL + f))
  ph_log "$name: $p passed, $f failed ($((SECONDS - t0)) s)"
  ((rc == 0 || f > 0)) || ph_not_ok "$name exited $rc with no failed check"
}

# ---- ports and waiting ----------------------------------------------------------
# a free loopback port outside the ephemeral range (tests/e2e/phtest.py)
ph_free_port() { python3 "$PH_LIB/e2e/phtest.py" port; }

# ph_wait_for SECONDS CMD...: until CMD succeeds (0), or 1 at the deadline;
# it tries every PH_WAIT_STEP (0.05) seconds. CMD exiting 255 means it never
# will (a process it waits for died): the wait ends at once with 1.
ph_wait_for() {
  local deadline=$(($(ph_now_ms) + ${1%.*} * 1000)) rc
  shift
  while :; do
    "$@"
    rc=$?
    ((rc == 0)) && return 0
    ((rc != 255 && $(ph_now_ms) < deadline)) || return 1
    sleep "${PH_WAIT_STEP:-0.05}"
  done
}

# conditions for ph_wait_for: ph_listens PORT (127.0.0.1:PORT accepts a
# connection), ph_answers URL STATUS (GET URL answers STATUS)
ph_listens() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ph_answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1") == "$2" ]]; }

ph__grep_line() { grep -m1 -E -- "$2" "$1" 2>/dev/null; }
# ph_wait_file FILE ERE [SECONDS]: prints the first line of FILE matching ERE
# once there is one; 1 at the deadline
ph_wait_file() { ph_wait_for "${3:-5}" ph__grep_line "$1" "$2"; }

# ph_mark FILE -> its current line count; ph_since FILE MARK -> the lines after
ph_mark() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
ph_since() { tail -n "+$(($2 + 1))" "$1"; }

# ph_spawn NAME CMD...: CMD in the background on a free port (up to 3 tries):
# PORT is set before CMD starts (a shell function as CMD can read it) and each
# "{PORT}" in CMD's words becomes it. Output is appended to $WORK/NAME.log; it
# is killed at exit. 0 once PORT listens (PID set), 1 if it never did.
ph_spawn() {
  local name=$1 try w cmd
  shift
  for try in 1 2 3; do
    PORT=$(ph_free_port)
    cmd=()
    for w in "$@"; do cmd+=("${w//\{PORT\}/$PORT}"); done
    "${cmd[@]}" >>"$WORK/$name.log" 2>&1 &
    PID=$!
    ph_cleanup "kill $PID; wait $PID"
    ph_wait_for 15 ph__up "$PID" ph_listens "$PORT" && return 0
    kill "$PID" 2>/dev/null
  done
  return 1
}

# ---- the server: the one way to run `packhelper serve` from shell ---------------
# ph_serve_start NAME [SERVE-OPTIONS...]: $PH serve on 127.0.0.1 with the
# store $WORK/NAME.store (PH_SERVE_ROOT overrides it), log appended to
# $WORK/NAME.log; waits up to PH_SERVE_WAIT (15) seconds for this process's
# ready line ({"ready":true,"listen":"127.0.0.1:PORT"...}) and GET /readyz 200
# (an answer alone could come from another server that took the port first).
# Sets PORT and PID (also SERVE_PORT_<NAME>, SERVE_PID_<NAME>). Starting NAME
# again (after ph_serve_stop, or a kill) reuses its port and store; a
# SERVE_PORT_<NAME> set beforehand chooses the port.
ph_serve_start() {
  local name=$1 v=${1//[^a-zA-Z0-9]/_} try root
  shift
  root=${PH_SERVE_ROOT:-$WORK/$name.store}
  local pv=SERVE_PORT_$v
  local mark log=$WORK/$name.log
  for try in 1 2 3; do
    PORT=${!pv:-$(ph_free_port)}
    mark=$(ph_mark "$log")
    "$PH" serve --listen "127.0.0.1:$PORT" --root "$root" "$@" </dev/null >>"$log" 2>&1 &
    PID=$!
    ph_cleanup "kill -KILL $PID; wait $PID"
    printf -v "SERVE_PID_$v" '%s' "$PID"
    if ph_wait_for "${PH_SERVE_WAIT:-15}" ph__up "$PID" ph__ready "$log" "$mark" "$PORT"; then
      printf -v "$pv" '%s' "$PORT"
      return 0
    fi
    kill -KILL "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    [[ -z ${!pv:-} ]] || break # a restart keeps its port: no second try elsewhere
  done
  ph_log "packhelper serve ($name) did not answer on 127.0.0.1:$PORT; last log lines:"
  tail -n 5 "$log" | sed 's/^/#   /' >&2
  return 1
}
# ph__ready LOG MARK PORT: the server started at MARK of LOG announced PORT, and it answers
ph__ready() {
  grep -qF "{\"ready\":true,\"listen\":\"127.0.0.1:$3\"" < <(ph_since "$1" "$2") &&
    ph_answers "http://127.0.0.1:$3/readyz" 200
}
# ph__up PID CMD...: CMD, while PID lives (255 once it is gone, for ph_wait_for)
ph__up() { kill -0 "$1" 2>/dev/null || return 255; "${@:2}"; }

# ph_serve_stop NAME [SIGNAL] [SECONDS]: send SIGNAL (TERM), wait up to
# SECONDS (10) before SIGKILL. Sets SERVE_RC (exit status) and SERVE_MS (time
# to exit). 0 if it exited by itself with status 0 and its log holds no
# sanitizer report; otherwise 1, with what went wrong on stderr.
ph_serve_stop() {
  local v=${1//[^a-zA-Z0-9]/_} sig=${2:-TERM} log=$WORK/$1.log t0 deadline bad=0
  local pv=SERVE_PID_$v
  local pid=${!pv}
  t0=$(ph_now_ms)
  deadline=$((t0 + ${3:-10} * 1000))
  kill "-$sig" "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && (($(ph_now_ms) < deadline)); do sleep 0.02; done
  SERVE_MS=$(($(ph_now_ms) - t0))
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    ph_log "packhelper serve ($1) still running ${3:-10} s after SIG$sig: killed"
    bad=1
  fi
  wait "$pid" 2>/dev/null
  SERVE_RC=$?
  if ((bad == 0 && SERVE_RC != 0)); then
    ph_log "packhelper serve ($1) exited $SERVE_RC after SIG$sig; last log lines:"
    tail -n 20 "$log" | sed 's/^/#   /' >&2
    bad=1
  fi
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" 2>/dev/null; then
    ph_log "sanitizer report in the log of packhelper serve ($1):"
    grep -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -n 60 >&2
    bad=1
  fi
  return "$bad"
}

# ---- raw registry access (independent of any client under test) ----------------
# ph_header NAME < headers-file -> the value of the last NAME header (no CR)
ph_header() {
  tr -d '\r' | awk -v n="$1" 'index(tolower($0), n ":") == 1 { v = substr($0, length(n) + 2); sub(/^[ \t]+/, "", v); val = v } END { print val }'
}

# ph_get_manifest REPO REF OUTFILE (registry $REG) -> "<http code>
# <Docker-Content-Digest> <Content-Type>" ("-" for a missing header)
ph_get_manifest() {
  local hdr=$WORK/hdr.$RANDOM code dcd ct
  code=$(curl -s -o "$3" -D "$hdr" -w '%{http_code}' --max-time 10 -H "Accept: $PH_ACCEPT" \
    "http://$REG/v2/$1/manifests/$2" || true)
  dcd=$(ph_header docker-content-digest <"$hdr")
  ct=$(ph_header content-type <"$hdr")
  rm -f "$hdr"
  printf '%s %s %s\n' "$code" "${dcd:--}" "${ct:--}"
}

# ---- test images -----------------------------------------------------------------
# ph_build_image TAG [LAYER...]: docker build FROM scratch, one COPY layer per
# LAYER: N is N KiB (plus up to 1 KiB) of random bytes, Nz is half random and
# half compressible text. Default: 512 768 1280. The first layer also holds
# /l1/hello.txt ("packhelper test ..."). Sets PH_IMAGE_ID and PH_DIFFIDS
# (newline separated); the image is removed at exit by ID (every tag).
# Call it directly, not in $(...), so that the cleanup sticks.
ph_build_image() {
  local tag=$1 ctx i=0 k n
  shift
  (($#)) || set -- 512 768 1280
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/ph-image.XXXXXX")
  {
    echo "FROM scratch"
    for k in "$@"; do
      i=$((i + 1))
      n=$((${k%z} * 1024 + RANDOM % 1024))
      mkdir -p "$ctx/l$i"
      if [[ $k == *z ]]; then
        { head -c $((n / 2)) /dev/urandom; yes "packhelper $(ph_rand)" | head -c $((n - n / 2)); } >"$ctx/l$i/data.bin"
      else
        head -c "$n" /dev/urandom >"$ctx/l$i/data.bin"
      fi
      echo "COPY l$i/ /l$i/"
    done
    echo "LABEL packhelper.test.run=\"${RAND:-}\" packhelper.test.tag=\"$tag\""
    echo 'CMD ["/l1/hello.txt"]'
  } >"$ctx/Dockerfile"
  printf 'packhelper test %s %s\n' "$tag" "$(ph_rand)" >"$ctx/l1/hello.txt"
  if ! DOCKER_BUILDKIT=0 docker build -q --no-cache -t "$tag" "$ctx" >"$ctx/build.log" 2>&1; then
    sed 's/^/#   /' "$ctx/build.log" >&2
    rm -rf "$ctx"
    return 1
  fi
  rm -rf "$ctx"
  PH_IMAGE_ID=$(docker image inspect -f '{{.Id}}' "$tag")
  ph_cleanup "docker rmi -f $PH_IMAGE_ID"
  PH_DIFFIDS=$(ph_image_diffids "$tag")
}

# ph_image_diffids REF -> the image's rootfs diff_ids, one per line
ph_image_diffids() { docker image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' "$1" | sed '/^$/d'; }
