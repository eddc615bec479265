#!/usr/bin/env python3
"""Installs the restyle plug-in for GIMP 3 or Krita 5, with the library and
the network weights beside it.

  python3 plugin/install.py gimp  [--flatpak] [--dir DIR] [--lib LIB] [--weights DIR]
  python3 plugin/install.py krita [--dir DIR] [--lib LIB] [--weights DIR] [--kritarc FILE]

Defaults: the library from target/release (else target/debug) of this
checkout; weights from $RESTYLE_WEIGHTS_DIR; the host's per-user plug-in
folder (Linux, Windows, macOS).
"""
import argparse
import os
import shutil
import stat
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import restyle_binding as rb  # noqa: E402

# What the default (arbitrary) and built-in (multistyle26) engines need.
WEIGHT_FILES = ["magenta-arbitrary-predict-int8.onnx", "magenta-arbitrary-transform-int8.onnx",
                "magenta-arbitrary-predict.safetensors", "magenta-arbitrary-transform.safetensors",
                "multistyle26.onnx",
                # the loss network of the Gatys method (one of them suffices)
                "vgg16-keras-imagenet.onnx", "vgg16.safetensors"]


FLATPAK_GIMP = os.path.join(".var", "app", "org.gimp.GIMP", "config", "GIMP", "3.0", "plug-ins")


def user_dir(host, flatpak=False):
    home = os.path.expanduser("~")
    if host == "gimp" and flatpak:  # the Flatpak's sandboxed profile (Linux)
        return os.path.join(home, FLATPAK_GIMP)
    if host == "gimp":
        if os.environ.get("GIMP3_DIRECTORY"):
            return os.path.join(os.environ["GIMP3_DIRECTORY"], "plug-ins")
        if sys.platform == "win32":
            return os.path.join(os.environ["APPDATA"], "GIMP", "3.0", "plug-ins")
        if sys.platform == "darwin":
            return os.path.join(home, "Library", "Application Support", "GIMP", "3.0", "plug-ins")
        return os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.join(home, ".config")), "GIMP", "3.0", "plug-ins")
    if sys.platform == "win32":
        return os.path.join(os.environ["APPDATA"], "krita", "pykrita")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "krita", "pykrita")
    return os.path.join(os.environ.get("XDG_DATA_HOME", os.path.join(home, ".local", "share")), "krita", "pykrita")


def default_lib():
    for profile in ("release", "debug"):
        p = os.path.join(ROOT, "target", profile, rb.library_file_name())
        if os.path.isfile(p):
            return p
    sys.exit("no built library: run `cargo build -p restyle-ffi --release` first, or pass --lib")


def copy_common(dest, lib, weights):
    os.makedirs(dest, exist_ok=True)
    shutil.copy2(os.path.join(HERE, "restyle_binding.py"), dest)
    shutil.copy2(lib, os.path.join(dest, rb.library_file_name()))
    thumbs = os.path.join(dest, "thumbnails")  # the built-in styles' sprite
    os.makedirs(thumbs, exist_ok=True)
    shutil.copy2(os.path.join(HERE, "thumbnails", "multistyle26.jpg"), thumbs)
    found = [f for f in WEIGHT_FILES if weights and os.path.isfile(os.path.join(weights, f))]
    # fast networks imported by name (`restyle weights import FILE --name NAME`), listed by the dialogs
    if weights and os.path.isdir(weights):
        found += sorted(f for f in os.listdir(weights) if f.startswith("fast-") and f.endswith(".safetensors"))
    if not found:
        print("note: no weights copied (pass --weights or set RESTYLE_WEIGHTS_DIR); "
              "the plug-in then reads RESTYLE_WEIGHTS_DIR at run time", file=sys.stderr)
    if found:
        wdir = os.path.join(dest, "weights")
        os.makedirs(wdir, exist_ok=True)
        for f in found:
            shutil.copy2(os.path.join(weights, f), wdir)


def install_gimp(root, lib, weights):
    dest = os.path.join(root, "restyle")  # GIMP 3: folder name == script name
    copy_common(dest, lib, weights)
    script = os.path.join(dest, "restyle.py")
    shutil.copy2(os.path.join(HERE, "gimp", "restyle", "restyle.py"), script)
    # GIMP silently ignores a plug-in without the executable bit.
    os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return dest


def enable_in_kritarc(path):
    lines = open(path).read().splitlines() if os.path.isfile(path) else []
    lines = [l for l in lines if not l.startswith("enable_restyle=")]
    if "[python]" in lines:
        lines.insert(lines.index("[python]") + 1, "enable_restyle=true")
    else:
        lines += ["", "[python]", "enable_restyle=true"]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def install_krita(root, lib, weights, kritarc):
    pkg = os.path.join(root, "restyle")
    if os.path.isdir(pkg):
        shutil.rmtree(pkg)
    shutil.copytree(os.path.join(HERE, "krita", "restyle"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(os.path.join(HERE, "krita", "restyle.desktop"), root)
    copy_common(pkg, lib, weights)
    if kritarc:
        enable_in_kritarc(kritarc)
    return pkg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host", choices=["gimp", "krita"])
    ap.add_argument("--dir", help="plug-in folder (default: the host's per-user folder)")
    ap.add_argument("--lib", help="librestyle to install (default: this checkout's target/)")
    ap.add_argument("--weights", default=os.environ.get("RESTYLE_WEIGHTS_DIR"), help="folder with the weights")
    ap.add_argument("--flatpak", action="store_true",
                    help="gimp: install into the Flatpak GIMP's profile (~/%s)" % FLATPAK_GIMP)
    ap.add_argument("--kritarc", help="kritarc to enable the plug-in in (Linux default: ~/.config/kritarc)")
    a = ap.parse_args()
    lib = a.lib or default_lib()
    root = a.dir or user_dir(a.host, a.flatpak)
    if (a.host == "gimp" and not a.flatpak and not a.dir
            and os.path.isdir(os.path.join(os.path.expanduser("~"), ".var", "app", "org.gimp.GIMP"))):
        print("note: a Flatpak GIMP is installed; it reads ~/%s: add --flatpak for it" % FLATPAK_GIMP, file=sys.stderr)
    if a.host == "gimp":
        dest = install_gimp(root, lib, a.weights)
        print("installed %s\nrestart GIMP: Filters > Artistic > Neural Style Transfer (restyle)..." % dest)
    else:
        kritarc = a.kritarc
        if kritarc is None and sys.platform.startswith("linux") and a.dir is None:
            kritarc = os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")), "kritarc")
        dest = install_krita(root, lib, a.weights, kritarc)
        print("installed %s\nrestart Krita%s: Tools > Scripts > Neural Style Transfer (restyle)..."
              % (dest, "" if kritarc else " and enable it in Settings > Configure Krita > Python Plugin Manager"))


if __name__ == "__main__":
    main()
