#!/bin/sh
# Fails, naming the files, if any C source differs from .clang-format.
clang_format=$1
top=$2
cd "$top" || exit 1
bad=$(git ls-files -co --exclude-standard '*.c' '*.h' | while read -r f; do
    "$clang_format" --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -n "$bad" ]; then
    echo "not formatted as .clang-format says (run clang-format -i):"
    echo "$bad"
    exit 1
fi
echo "all C files match .clang-format"
