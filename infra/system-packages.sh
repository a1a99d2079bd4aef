#!/bin/sh
# Debian packages the CRM needs beside its Python wheels: weasyprint renders
# invoice PDFs with pango (and harfbuzz's subsetter: libharfbuzz-subset0 makes
# each PDF about six times faster) and a font; poppler-utils' pdftotext and
# pdftoppm are how a person looks at a PDF the tests made. chromium: the real
# browser the web form e2e test drives (tests/e2e/); a missing browser fails
# that test, never skips it.
# Installs only what is missing, and only where apt-get and root are at hand.
set -e
PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils chromium"
missing=""
for package in $PACKAGES; do
  dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
  echo "Please install these Debian packages:$missing" >&2
  exit 1
fi
