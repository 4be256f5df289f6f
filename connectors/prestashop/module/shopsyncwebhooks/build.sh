#!/bin/sh
# Builds shopsyncwebhooks-<version>.zip, the archive the shop's Module Manager uploads.
# Usage: sh build.sh [output directory]   (default: ./dist)
# The archive's root folder must be the module's name; build files stay out of it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$here")
version=$(sed -n "s/.*this->version = '\([^']*\)'.*/\1/p" "$here/$name.php")
out=${1:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
archive="$out/$name-$version.zip"
rm -f "$archive"
python3 - "$here" "$name" "$archive" <<'PY'
import sys
import zipfile
from pathlib import Path

here, name, archive = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
skip = {"build.sh", "dist"}
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
    for path in sorted(here.rglob("*")):
        relative = path.relative_to(here)
        if relative.parts[0] in skip or path.is_dir() or path.name.startswith("."):
            continue
        zf.write(path, f"{name}/{relative.as_posix()}")
PY
echo "$archive"
