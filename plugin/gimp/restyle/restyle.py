#!/usr/bin/env python3
"""restyle for GIMP 3: Filters > Artistic > Neural Style Transfer (restyle)...

Reads the layer (or the selection's bounding box) through GEGL in a format
that keeps the image's precision, stylizes it with the restyle C library and
writes it back through the shadow buffer, so GIMP applies the selection
mask and records one undo step.
"""
import os
import sys

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, Gegl, GLib, GObject, Gio

HERE = os.path.dirname(os.path.abspath(__file__))
# Installed: the binding sits beside this file; in the source tree: plugin/.
sys.path[:0] = [HERE, os.path.normpath(os.path.join(HERE, "..", ".."))]
import restyle_binding as rb  # noqa: E402

PROC = "plug-in-restyle"

# babl format asked from GEGL and the matching RESTYLE_FORMAT, per precision:
# non-linear (sRGB-encoded) values, as the networks were trained on.
FORMATS = {
    "u8": ("R'G'B'A u8", rb.FORMAT_RGBA8),
    "u8-noalpha": ("R'G'B' u8", rb.FORMAT_RGB8),
    "u16": ("R'G'B'A u16", rb.FORMAT_RGBA16),
    "half": ("R'G'B'A half", rb.FORMAT_RGBAF16),
    "float": ("R'G'B'A float", rb.FORMAT_RGBAF32),
}


def pick_format(image, drawable):
    nick = image.get_precision().value_nick  # e.g. "u8-non-linear", "half-linear"
    if nick.startswith("u8"):
        return FORMATS["u8" if drawable.has_alpha() else "u8-noalpha"]
    if nick.startswith("u16"):
        return FORMATS["u16"]
    if nick.startswith("half"):
        return FORMATS["half"]
    return FORMATS["float"]  # u32, float, double


def fail(procedure, msg):
    Gimp.message("restyle: " + msg)
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(msg))


def show_dialog(procedure, config):
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi
    GimpUi.init(PROC)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Neural Style Transfer (restyle)")
    dialog.fill(None)
    shot = os.environ.get("RESTYLE_SCREENSHOT")
    if shot:  # docs/CI: save the dialog as PNG, then dismiss it
        from gi.repository import Gdk, Gtk

        def grab():
            win = dialog.get_window()
            pb = Gdk.pixbuf_get_from_window(win, 0, 0, win.get_width(), win.get_height())
            pb.savev(shot, "png", [], [])
            dialog.response(Gtk.ResponseType.CANCEL)
            return False
        GLib.timeout_add(2500, grab)
    ok = dialog.run()
    dialog.destroy()
    return ok


def run(procedure, run_mode, image, drawables, config, data):
    if len(drawables) != 1:
        return fail(procedure, "select exactly one layer")
    drw = drawables[0]
    if run_mode == Gimp.RunMode.INTERACTIVE and not show_dialog(procedure, config):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())

    method = config.get_property("method")
    style = config.get_property("style-file")
    style_path = style.get_path() if style is not None else None
    if method in rb.STYLE_METHODS and not style_path:
        return fail(procedure, "choose a style image")
    if method not in rb.STYLE_METHODS:
        style_path = None  # built-in styles: a chosen file does not apply

    ok, x, y, w, h = drw.mask_intersect()  # selection bounds, drawable coordinates
    if not ok:
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())
    babl, fmt = pick_format(image, drw)
    rect = Gegl.Rectangle.new(x, y, w, h)
    pixels = bytearray(drw.get_buffer().get(rect, 1.0, babl, Gegl.AbyssPolicy.CLAMP))

    Gimp.progress_init("Neural style transfer")

    def progress(stage, fraction):
        Gimp.progress_set_text("Neural style transfer: " + stage)
        Gimp.progress_update(fraction)
        return False

    try:
        with rb.Context() as ctx:
            ctx.stylize(pixels, w, h, fmt, method=method, style_path=style_path,
                        builtin_style=config.get_property("builtin-style") if method == "multistyle26" else None,
                        strength=config.get_property("strength"),
                        preserve_color=config.get_property("preserve-color"),
                        working_size=config.get_property("working-size"),
                        max_seconds=config.get_property("max-seconds") if method == "gatys-improved" else 0.0,
                        progress=progress)
    except rb.RestyleError as e:
        Gimp.progress_end()
        if e.cancelled:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        return fail(procedure, str(e))

    image.undo_group_start()
    shadow = drw.get_shadow_buffer()  # shadow + merge: selection mask and one undo step
    shadow.set(rect, babl, bytes(pixels))
    shadow.flush()
    drw.merge_shadow(True)
    drw.update(x, y, w, h)
    image.undo_group_end()
    Gimp.progress_end()
    Gimp.displays_flush()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


def choice(*items):
    c = Gimp.Choice.new()
    for i, (nick, label) in enumerate(items):
        c.add(nick, i, label, "")
    return c


class Restyle(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PROC]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        rw = GObject.ParamFlags.READWRITE
        p = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        p.set_image_types("RGB*")
        p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        p.set_menu_label("Neural Style Transfer (restyle)...")
        p.add_menu_path("<Image>/Filters/Artistic")
        p.set_documentation("Paint the layer in the style of an image",
                            "Neural style transfer with restyle: the arbitrary network takes any style image; "
                            "multistyle26 has 26 built-in styles; Gatys improved optimises the image itself "
                            "(best quality, slow: bounded by the time budget). Honours the selection.", name)
        p.set_attribution("restyle", "restyle contributors", "2026")
        p.add_choice_argument("method", "_Method", "Style transfer method",
                              choice(("arbitrary", "Arbitrary (any style image)"),
                                     ("multistyle26", "Built-in styles (26)"),
                                     ("gatys-improved", "Gatys improved (slow, time budget)")), "arbitrary", rw)
        p.add_file_argument("style-file", "St_yle image", "Painting whose style to apply",
                            Gimp.FileChooserAction.OPEN, True, None, rw)
        p.add_int_argument("builtin-style", "_Built-in style", "Style number for the built-in method",
                           0, rb.MULTISTYLE26_STYLES - 1, 0, rw)
        p.add_double_argument("strength", "S_trength", "How strongly to apply the style", 0.0, 1.0, 1.0, rw)
        p.add_choice_argument("preserve-color", "_Preserve colours", "Keep the layer's colours",
                              choice(("none", "No"), ("luminance", "Luminance only"),
                                     ("histogram", "Match colours")), "none", rw)
        p.add_int_argument("working-size", "_Working size",
                           "Longest side to work at (0 = as is; Gatys: 512 px at most)", 0, 8192, 0, rw)
        p.add_double_argument("max-seconds", "Time _budget (s)",
                              "Gatys improved: stop after this many seconds with the best image so far (0 = no limit)",
                              0.0, 86400.0, 120.0, rw)
        return p


Gimp.main(Restyle.__gtype__, sys.argv)
