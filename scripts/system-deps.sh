#!/usr/bin/env bash
# Installs the Debian packages the hub's local services and tests need, only those missing.
# As root it runs apt-get; otherwise it prints the command to run and carries on (the parts that
# need a missing package say so, or skip their tests with the reason).
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
java_ok() { have java && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'; }
java_ok || need+=(openjdk-17-jre-headless)
have mvn || need+=(maven)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
have mosquitto || need+=(mosquitto mosquitto-clients)
have npm || need+=(nodejs npm)  # builds the workspace editor bundle (web/package-lock.json)
for extra in "$@"; do
  case "$extra" in
    browser) have chromium || need+=(chromium chromium-driver); have npm || need+=(npm) ;;
    report) fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk); have pdftotext || need+=(poppler-utils) ;;
  esac
done
((${#need[@]})) || exit 0
if [ "$(id -u)" -eq 0 ] && have apt-get; then
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
  # Debian starts these services on install; the hub runs its own instances on its own ports.
  for svc in mosquitto postgresql; do service "$svc" stop >/dev/null 2>&1 || true; done
else
  echo "missing Debian packages: ${need[*]} — install them with: sudo apt-get install ${need[*]}" >&2
fi
