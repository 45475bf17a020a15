#!/bin/sh
# System packages the test suite needs beyond the service's: Debian's Chromium, which the
# browser tests drive through Playwright (never `playwright install`: no downloads from
# outside the package registries). Installs it with apt-get when run as root.
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "The browser tests need Debian's chromium package (/usr/bin/chromium):" >&2
    echo "    sudo apt-get update && sudo apt-get install -y chromium" >&2
    exit 1
fi
echo "installing system packages: chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
