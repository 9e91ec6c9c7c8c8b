#!/usr/bin/env bash
# Coverage-guided fuzzing of the native code (_cscan, _cgraph, _cdwarf) under AddressSanitizer
# and UBSan, with libFuzzer through atheris (see fuzz/native/__init__.py).
#
#   bash scripts/fuzz-native.sh TARGET SECONDS [libFuzzer options...]
#
# TARGET: dump, arrays, dwarf or all (one after another, SECONDS each). Installs what it needs
# when it is missing: clang and its sanitizer runtimes from Debian (as root), atheris and the
# Python dependencies into .fuzz-venv; builds the extensions with
# -fsanitize=address,undefined,fuzzer-no-link into .fuzz/build; writes seeds (real dumps and
# binaries of the test programs) under .fuzz/seeds, grows corpora under .fuzz/corpus, keeps logs
# under .fuzz/logs and crashing inputs under .fuzz/artifacts. Prints per target: seconds,
# executions, edges, features, corpus size, findings. Exits non-zero on any sanitizer report,
# crash or hang. FUZZ_NICE (default 10) is the niceness of the fuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
case "$target" in
  all) targets=(dump arrays dwarf) ;;
  dump|arrays|dwarf) targets=("$target") ;;
  *) echo "fuzz-native: unknown target $target (dump, arrays, dwarf, all)" >&2; exit 2 ;;
esac
FUZZ=.fuzz
VENV=.fuzz-venv

# 1. clang and the sanitizer runtimes (Debian).
rt_missing() {
  ! command -v clang >/dev/null 2>&1 \
    || [ ! -f "$(clang -print-file-name=libclang_rt.asan-x86_64.so)" ] \
    || [ ! -f "$(clang -print-file-name=libclang_rt.fuzzer_no_main-x86_64.a)" ]
}
if rt_missing; then
  sudo=()
  [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && sudo=(sudo -n)
  if { [ "$(id -u)" != 0 ] && [ ${#sudo[@]} = 0 ]; } || ! command -v apt-get >/dev/null 2>&1; then
    echo "fuzz-native: needs clang with its sanitizer runtimes (Debian: clang libclang-rt-dev)" >&2
    exit 2
  fi
  echo "fuzz-native: installing clang from Debian" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
  if rt_missing; then
    major=$(clang -dumpversion | cut -d. -f1)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      "libclang-rt-$major-dev" >/dev/null
  fi
  rt_missing && { echo "fuzz-native: no sanitizer runtimes for clang" >&2; exit 2; }
fi

# 2. A venv of its own with atheris and what heapspurs' Python code needs.
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import atheris, numpy, elftools" \
    >/dev/null 2>&1; then
  echo "fuzz-native: setting up $VENV (atheris)" >&2
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel >/dev/null
  "$VENV/bin/python" -m pip install -q atheris click numpy regex graphviz pyelftools >/dev/null
fi
asan="$("$VENV/bin/python" -c 'import atheris, os; print(os.path.join(atheris.path(), "asan_with_fuzzer.so"))')"

# 3. The sanitized build (again when a source or the flags change).
flags="-g -O1 -fno-omit-frame-pointer -fno-wrapv -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined"
stamp=$( (echo "$flags"; clang --version; cat setup.py heapspurs/scan/*.[ch] heapspurs/analysis/*.c \
  heapspurs/names/*.[ch]) | sha1sum | cut -c1-16)
if [ "$(cat "$FUZZ/build/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "fuzz-native: building the extensions with ASan + UBSan" >&2
  rm -rf "$FUZZ/build"
  mkdir -p "$FUZZ/build"
  if ! CC=clang LDSHARED="clang -shared" CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
      "$VENV/bin/python" setup.py build_ext --build-lib "$FUZZ/build/lib" \
      --build-temp "$FUZZ/build/tmp" >"$FUZZ/build/log" 2>&1 \
      || [ "$(find "$FUZZ/build/lib" -name '*.so' | wc -l)" != 3 ]; then
    cat "$FUZZ/build/log" >&2
    echo "fuzz-native: the sanitized build failed" >&2
    exit 2
  fi
  echo "$stamp" >"$FUZZ/build/stamp"
fi

# 4. Each target: seeds, then libFuzzer with the ASan runtime preloaded.
status=0
for t in "${targets[@]}"; do
  PYTHONPATH=. "$VENV/bin/python" -m fuzz.native seeds "$t"
  mkdir -p "$FUZZ/corpus/$t" "$FUZZ/artifacts/$t" "$FUZZ/logs"
  log="$FUZZ/logs/$t-$(date +%Y%m%d-%H%M%S).log"
  maxlen=()
  [ "$t" = arrays ] && maxlen=(-max_len=4096)
  set +e
  env LD_PRELOAD="$asan" PYTHONPATH=. PYTHONMALLOC=malloc \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:symbolize=1:${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
    nice -n "${FUZZ_NICE:-10}" "$VENV/bin/python" -m fuzz.native run "$t" \
    "$FUZZ/corpus/$t" "$FUZZ/seeds/$t" -dict="$FUZZ/dict/$t.dict" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$FUZZ/artifacts/$t/" "${maxlen[@]}" "$@" >"$log" 2>&1
  rc=$?
  set -e
  line=$(PYTHONPATH=. "$VENV/bin/python" -m fuzz.native stats "$t" "$log") || rc=1
  echo "$line log=$log"
  # An input slower than 10 s once (libFuzzer's slow-unit) may be a busy machine: run it again
  # (a real hang is a timeout- finding, after -timeout=20 s).
  for unit in $(grep -o 'Test unit written to [^ ]*slow-unit-[^ ]*' "$log" | cut -d' ' -f5); do
    env LD_PRELOAD="$asan" PYTHONPATH=. PYTHONMALLOC=malloc ASAN_OPTIONS=detect_leaks=0 \
      "$VENV/bin/python" -m fuzz.native run "$t" "$unit" 2>&1 | grep -o 'Executed .*' || true
  done
  if [ "$rc" != 0 ]; then
    status=1
    echo "fuzz-native: $t: FINDING (exit status $rc); the report:" >&2
    grep -n -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error:|Uncaught Python exception|deadly signal' "$log" >&2 || true
    # The report without the interpreter's frames below the first few.
    sed -n '/==ERROR\|runtime error:\|Uncaught Python\|deadly signal/,/Test unit written/p' "$log" \
      | grep -v -E '^ +#([6-9]|[1-9][0-9]+) ' | head -60 >&2
  fi
done
exit $status
