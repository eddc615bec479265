"""PyQt5/PyQt6 shim: Krita 5 embeds PyQt5, Krita 6 PyQt6. Inside Krita the
host's version decides (loading the other Qt into it would crash); outside
(the offscreen dialog test) PyQt6 is tried first, then PyQt5, unless
RESTYLE_QT=5 or 6 says which. The plug-in's code uses only what both
accept: scoped enums (Qt.AlignmentFlag.AlignCenter) and exec()."""
import os
import sys


def _wanted():
    if os.environ.get("RESTYLE_QT") in ("5", "6"):
        return [int(os.environ["RESTYLE_QT"])]
    if "krita" in sys.modules:
        try:
            from krita import Krita
            return [6 if Krita.instance().version().startswith("6") else 5]
        except Exception:
            return [5]
    return [6, 5]


for _v in _wanted():
    try:
        if _v == 6:
            from PyQt6 import QtCore, QtGui, QtWidgets  # noqa: F401
        else:
            from PyQt5 import QtCore, QtGui, QtWidgets  # noqa: F401
        QT_MAJOR = _v
        break
    except ImportError:
        continue
else:
    raise ImportError("restyle needs PyQt5 (Krita 5) or PyQt6 (Krita 6)")
