try:
    from krita import Krita
except ImportError:  # outside Krita (plugin/tests/dialog_qt_test.py): the modules alone
    Krita = None

if Krita is not None:
    from .extension import RestyleExtension

    Krita.instance().addExtension(RestyleExtension(Krita.instance()))
