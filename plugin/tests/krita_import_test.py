"""The release zip installed into a clean Krita profile by Krita's own
importer (Tools > Scripts > Import Python Plugin from File...): its
PluginImporter, from Krita's plugin_importer plug-in, called with the
resources folder and followed by the setting its extension writes.

  QT_QPA_PLATFORM=offscreen HOME=<clean> kritarunner -s krita_import_test -f main ZIP RESOURCES KRITARC

RESOURCES is the Krita GUI's resources folder (~/.local/share/krita: what
Krita.getAppDataLocation() returns in the GUI; kritarunner's own is
~/.local/share/kritarunner) and KRITARC its settings file, where the
importer's extension enables the plug-in (enable_restyle=true in [python]).

Prints RESTYLE-KRITA-IMPORT-OK or RESTYLE-KRITA-IMPORT-FAIL. Then
.ci/plugins.sh starts the Krita GUI on that profile (RESTYLE_SELFTEST_MENU)
to see the filter in the menu.
"""
import os
import sys
import traceback

from krita import Krita


def main(args):
    zip_path, resources, kritarc = args
    os.makedirs(resources, exist_ok=True)  # a clean profile: Krita makes it on first start
    try:
        k = Krita.instance()
        for d in ("/usr/share/krita/pykrita", os.path.join(sys.prefix, "share", "krita", "pykrita")):
            if os.path.isdir(os.path.join(d, "plugin_importer")):
                sys.path.insert(0, d)
                break
        import builtins
        if not hasattr(builtins, "i18n"):  # Krita's GUI defines it; kritarunner may not
            builtins.i18n = lambda s: s
        from plugin_importer.plugin_importer import PluginImporter
        imported = PluginImporter(zip_path, resources, lambda plugin: True).import_all()
        names = [p["name"] for p in imported]
        for p in imported:  # what plugin_importer_extension does (writeSetting) after importing, in the GUI's kritarc
            with open(kritarc, "a") as f:
                f.write("\n[python]\nenable_%s=true\n" % p["name"])
        pkg = os.path.join(resources, "pykrita", "restyle")
        files = sorted(os.listdir(pkg))
        print("RESTYLE-KRITA-IMPORT imported %s into %s: %s" % (names, resources, files), flush=True)
        assert names == ["restyle"], names
        for f in ("__init__.py", "librestyle.so", "restyle_binding.py", "thumbnails"):
            assert f in files, f
        assert os.path.isfile(os.path.join(resources, "pykrita", "restyle.desktop"))
        print("RESTYLE-KRITA-IMPORT-OK", flush=True)
    except Exception:
        traceback.print_exc()
        print("RESTYLE-KRITA-IMPORT-FAIL", flush=True)
