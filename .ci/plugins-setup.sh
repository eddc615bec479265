#!/bin/bash
# Prepare the real plug-in hosts for .ci/plugins.sh (idempotent; run as root on Debian bookworm):
#  - host (bookworm): Krita 5.1 + PyQt5, Xvfb, xwd, python3-pil/numpy for checking outputs;
#  - Debian trixie chroot with GIMP 3.0 (bookworm has no GIMP 3), reused when its stamp is present.
# Recipe and timings: ../shared/docs/plugin-hosts.md. From scratch ~1-3 min, ~1.2 GB disk.
set -euo pipefail
R=${RESTYLE_CHROOT:-/var/cache/restyle-ci/trixie}
STAMP="$R/.restyle-ci-ready-v1"
export DEBIAN_FRONTEND=noninteractive
t() { local s=$EPOCHREALTIME; "$@"; echo "TIMING $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME-$s}") s: $*" >&2; }

HOST_PKGS="krita python3-pyqt5 xvfb xauth x11-apps python3-pil python3-numpy debootstrap python3-venv"
missing=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $HOST_PKGS 2>/dev/null | awk '$2!="installed"{print $1}' || true)
have=$(dpkg-query -W -f='${Package}\n' $HOST_PKGS 2>/dev/null | wc -l || true)
if [ -n "$missing" ] || [ "$have" -lt "$(echo $HOST_PKGS | wc -w)" ]; then
  t apt-get update -q >/dev/null
  t apt-get install -y -q --no-install-recommends $HOST_PKGS >/dev/null
fi

# PyQt6 (Krita 6's binding; no Krita 6 in Debian bookworm or trixie) from
# PyPI, for the dialog test: a venv kept under /var/cache like the chroot.
V=${RESTYLE_PYQT6_VENV:-/var/cache/restyle-ci/pyqt6-venv}
if ! "$V/bin/python" -c "import PyQt6.QtWidgets" 2>/dev/null; then
  rm -rf "$V.tmp"
  /usr/bin/python3 -m venv --system-site-packages "$V.tmp"
  t "$V.tmp/bin/pip" install -q PyQt6==6.11.0
  rm -rf "$V"
  mv "$V.tmp" "$V"
fi

mount_binds() { for m in proc sys dev dev/pts; do mountpoint -q "$R/$m" || mount --bind "/$m" "$R/$m"; done; }
umount_binds() { for m in dev/pts dev sys proc; do umount "$R/$m" 2>/dev/null || true; done; }

if [ ! -f "$STAMP" ]; then
  if [ -d "$R" ]; then   # half-built: unmount first, never delete through a bound /dev
    umount_binds
    rm -rf --one-file-system "$R"
  fi
  mkdir -p "$(dirname "$R")"
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  t debootstrap --variant=minbase trixie "$R.tmp" "$MIRROR" >/dev/null
  mv "$R.tmp" "$R"
  trap umount_binds EXIT
  mount_binds
  in_root() { chroot "$R" env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
  t in_root apt-get update -q >/dev/null
  # gimp pulls python3-gi and gir1.2-gimp-3.0; Xvfb + xwd only for the dialog screenshots
  t in_root apt-get install -y -q --no-install-recommends gimp python3-numpy xvfb xauth x11-apps >/dev/null
  in_root apt-get clean
  in_root dpkg-query -W gimp > "$STAMP"
  du -smx "$R" >&2
fi
echo "plug-in hosts ready: host $(dpkg-query -W -f='krita ${Version}' krita), chroot $R: $(cat "$STAMP")" >&2
