#!/usr/bin/env python3
"""Builds the plug-in release artefacts (Linux) in one command:

  python3 plugin/package.py [--lib LIB] [--weights DIR] [-o DIR]

  restyle-krita-VERSION-linux-x86_64.zip   Krita: Tools > Scripts > Import Python
                                          Plugin from File..., then restart Krita
  restyle-gimp-VERSION-linux-x86_64.tar.gz GIMP 3: unpack into the plug-ins folder
                                          (~/.config/GIMP/3.0/plug-ins, Flatpak:
                                          ~/.var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins)

Each holds the plug-in, the shared binding, the built-in styles' thumbnails
and the library; with --weights also the network files (else the plug-in
reads RESTYLE_WEIGHTS_DIR). The layouts are those plugin/install.py makes
(the same code), so an artefact installs exactly what install.py would.
Default output: target/plugin-dist/. Windows/macOS: docs/plugins.md.
"""
import argparse
import ctypes
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import install  # noqa: E402
import restyle_binding as rb  # noqa: E402


def library_version(lib):
    """The version the library reports (restyle_version())."""
    handle = ctypes.CDLL(lib)
    handle.restyle_version.restype = ctypes.c_char_p
    return handle.restyle_version().decode()


def krita_zip(lib, weights, out):
    with tempfile.TemporaryDirectory() as tmp:
        install.install_krita(tmp, lib, weights, None)
        part = out + ".part"
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
            for root, dirs, files in os.walk(tmp):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                if root != tmp:
                    # Folder entries: Krita's importer finds the package by its "restyle/" entry.
                    z.write(root, os.path.relpath(root, tmp) + "/")
                for f in sorted(files):
                    p = os.path.join(root, f)
                    z.write(p, os.path.relpath(p, tmp))
        os.replace(part, out)  # atomic: never a half-written artefact


def gimp_tar(lib, weights, out):
    with tempfile.TemporaryDirectory() as tmp:
        install.install_gimp(tmp, lib, weights)
        part = out + ".part"
        with tarfile.open(part, "w:gz") as t:  # tar keeps restyle.py's executable bit (GIMP needs it)
            t.add(os.path.join(tmp, "restyle"), "restyle")
        os.replace(part, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", help="librestyle to ship (default: this checkout's target/, release first)")
    ap.add_argument("--weights", help="folder with the weights to include (default: none)")
    ap.add_argument("-o", "--out", default=os.path.join(install.ROOT, "target", "plugin-dist"))
    a = ap.parse_args()
    lib = a.lib or install.default_lib()
    version = library_version(lib)
    arch = {"AMD64": "x86_64"}.get(platform.machine(), platform.machine())
    tag = "%s-%s-%s" % (version, sys.platform.replace("linux", "linux"), arch)
    os.makedirs(a.out, exist_ok=True)
    kz = os.path.join(a.out, "restyle-krita-%s.zip" % tag)
    gt = os.path.join(a.out, "restyle-gimp-%s.tar.gz" % tag)
    krita_zip(lib, a.weights, kz)
    gimp_tar(lib, a.weights, gt)
    for p in (kz, gt):
        print("%s (%.1f MB)" % (p, os.path.getsize(p) / 1e6))


if __name__ == "__main__":
    main()
