#!/bin/sh
# Install Debian's chromium for the feedback-page rendering test, when it is missing and we can.
# Never fails the build: when chromium cannot be installed, the test skips and says why.
set -u

for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: chromium is missing and cannot be installed here (needs root and apt-get);" \
         "the feedback rendering test will be skipped" >&2
    exit 0
fi

echo "ensure_chromium: installing Debian's chromium for the feedback rendering test" >&2
export DEBIAN_FRONTEND=noninteractive
# The lock timeout lets a concurrent apt run finish instead of failing at once.
if apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
   apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; then
    echo "ensure_chromium: installed $(command -v chromium)" >&2
else
    echo "ensure_chromium: could not install chromium; the feedback rendering test will be skipped" >&2
fi
exit 0
