#!/bin/sh
# System packages Kehou Ledger needs: Pango/HarfBuzz for WeasyPrint (libharfbuzz-subset0,
# or Chinese pages render 20-50x slower) and a CJK font for Chinese documents.
# Installs them with apt-get when run as root; otherwise prints the command and stops.
set -eu
PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk"
missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Kehou Ledger needs these system packages (Debian/Ubuntu names):$missing" >&2
    echo "Install them with your system's package manager, then run make again." >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Kehou Ledger needs system packages that are not installed:$missing" >&2
    echo "Run this, then run make again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing system packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
