#!/usr/bin/env bash
# What an admin installs: `cmake --install` puts stripped binaries, the man page and the
# completions under a prefix; `cpack -G DEB` makes a package whose Depends dpkg-shlibdeps derived
# from the binaries. Usage: install_and_deb_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "cmake --install"; }
for f in bin/chime-onboard bin/chime-emulator share/man/man1/chime-onboard.1 \
         share/bash-completion/completions/chime-onboard share/zsh/vendor-completions/_chime-onboard; do
  [[ -s "$work/prefix/$f" ]] || fail "cmake --install did not install $f"
done
for b in chime-onboard chime-emulator; do
  file "$work/prefix/bin/$b" | grep -q ', stripped' || fail "$b is not stripped: $(file "$work/prefix/bin/$b")"
done
"$work/prefix/bin/chime-onboard" --version | grep -q '^chime-onboard ' || fail "installed binary does not run"

(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/deb" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; fail "cpack -G DEB"; }
deb=$(ls "$work"/deb/*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "package: $(basename "$deb")"
echo "Depends: $depends"
for lib in libc6 libstdc++6 libssl3 libspdlog1.10 libboost-json1.81.0 libarchive13 zlib1g libidn2-0; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib"
done
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/chime-onboard ./usr/share/man/man1/chime-onboard.1 \
         ./usr/share/bash-completion/completions/chime-onboard; do
  grep -q " $f\$" <<<"$contents" || fail "the package lacks $f"
done
echo "ok"
