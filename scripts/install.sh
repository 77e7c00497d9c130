#!/usr/bin/env bash
# Installs locktop under PREFIX (default /usr/local) as a tool that runs without the Swift toolchain:
# the binary, built with the Swift standard library linked in; bash, zsh and fish completions; the man page.
#   bash scripts/install.sh [PREFIX]
set -euo pipefail
prefix="${1:-/usr/local}"
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-prefect
# A scratch folder of its own, so installing never waits on (or disturbs) a development build.
scratch=.build-install
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product locktop
install -d "$prefix/bin" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
# Installed before the manual is generated: the manual plugin builds the package again, without the static stdlib.
install -m 0755 "$scratch/release/locktop" "$prefix/bin/locktop"
binary="$prefix/bin/locktop"
"$binary" --generate-completion-script bash > "$prefix/share/bash-completion/completions/locktop"
"$binary" --generate-completion-script zsh > "$prefix/share/zsh/site-functions/_locktop"
"$binary" --generate-completion-script fish > "$prefix/share/fish/vendor_completions.d/locktop.fish"
swift package --scratch-path "$scratch" plugin generate-manual >/dev/null
install -m 0644 "$scratch/plugins/GenerateManual/outputs/locktop/locktop.1" "$prefix/share/man/man1/locktop.1"
echo "installed locktop $("$binary" --version) in $prefix (binary, man page, bash/zsh/fish completions)"
