#!/bin/sh
# Install Debian's chromium and chromium-driver for the browser tests (the feedback page's rendering, the
# hand-grading app), when they are missing and we can. Never fails the build: without them those tests skip,
# and say why.
set -u

have_browser=""
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        have_browser=1
    fi
done
if [ -n "$have_browser" ] && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: chromium or chromedriver is missing and cannot be installed here (needs root and" \
         "apt-get); the browser tests will be skipped" >&2
    exit 0
fi

echo "ensure_chromium: installing Debian's chromium and chromium-driver for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
# The lock timeout lets a concurrent apt run finish instead of failing at once.
if apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
   apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium chromium-driver \
       fonts-dejavu-core >/dev/null; then
    echo "ensure_chromium: installed $(command -v chromium) and $(command -v chromedriver)" >&2
else
    echo "ensure_chromium: could not install chromium and chromium-driver; the browser tests will be skipped" >&2
fi
exit 0
