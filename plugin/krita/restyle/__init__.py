from krita import Krita

from .extension import RestyleExtension

Krita.instance().addExtension(RestyleExtension(Krita.instance()))
