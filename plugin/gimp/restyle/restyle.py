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
PREVIEW_PROC = "plug-in-restyle-preview"

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


def show_dialog(procedure, config, image, drw):
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import GimpUi, Gtk, GdkPixbuf
    GimpUi.init(PROC)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Neural Style Transfer (restyle)")
    dialog.fill(None)
    # The preview: a stylized thumbnail of the layer (or selection), redone
    # 300 ms after the last change of a setting.
    frame = Gtk.Frame(label="Preview")
    img = Gtk.Image()
    img.set_size_request(rb.PREVIEW_SIDE + 8, rb.PREVIEW_SIDE + 8)
    status = Gtk.Label(label="")
    status.set_line_wrap(True)
    status.set_max_width_chars(40)
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4, margin=6)
    box.pack_start(img, False, False, 0)
    box.pack_start(status, False, False, 0)
    # The chosen built-in style's thumbnail (plugin/thumbnails/multistyle26.jpg).
    tile = Gtk.Image()
    sprite_path = rb.thumbnails_path()
    sprite = GdkPixbuf.Pixbuf.new_from_file(sprite_path) if sprite_path else None
    names = library_lists()[1]
    box.pack_start(tile, False, False, 0)

    def show_tile():
        name = config.get_property("builtin-style")
        if sprite is not None and config.get_property("method") == "multistyle26" and name in names:
            s = rb.THUMB_SIDE
            tile.set_from_pixbuf(sprite.new_subpixbuf(names.index(name) * s, 0, s, s))
            tile.set_tooltip_text(name)
        else:
            tile.clear()
    frame.add(box)
    dialog.get_content_area().pack_start(frame, False, False, 6)
    frame.show_all()
    state = {"timer": None, "shown": 0, "ctx": None}

    def refresh():
        state["timer"] = None
        opts = options_from(config)
        problem = check_options(opts)
        try:
            if problem:
                raise rb.RestyleError(2, problem)
            if state["ctx"] is None:
                state["ctx"] = rb.Context()
            w, h, px = preview_pixels(image, drw, opts, context=state["ctx"])
        except rb.RestyleError as e:
            img.clear()
            status.set_text("no preview: " + str(e)[:160])
            return False
        pb = GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(px), GdkPixbuf.Colorspace.RGB, True, 8, w, h, 4 * w)
        img.set_from_pixbuf(pb)
        status.set_text("%d x %d" % (w, h))
        state["shown"] += 1
        return False

    def changed(*_):
        show_tile()
        if state["timer"] is not None:
            GLib.source_remove(state["timer"])
        state["timer"] = GLib.timeout_add(300, refresh)
    config.connect("notify", changed)
    changed()

    step = selftest_step(config)
    if step:  # CI: wait for the preview, save the dialog, press OK or Cancel
        from gi.repository import Gdk
        waited = [0]

        def grab():
            waited[0] += 1
            if state["shown"] == 0 and waited[0] < 100:
                return True
            print("RESTYLE-GIMP-DIALOG %s: preview shown: %s" % (step[1], state["shown"] > 0), flush=True)
            if len(step) > 3 and step[3] != "-":
                win = dialog.get_window()
                pb = Gdk.pixbuf_get_from_window(win, 0, 0, win.get_width(), win.get_height())
                pb.savev(step[3], "png", [], [])
            dialog.response(Gtk.ResponseType.OK if step[0] == "ok" else Gtk.ResponseType.CANCEL)
            return False
        GLib.timeout_add(300, grab)
    ok = dialog.run()
    if state["timer"] is not None:
        GLib.source_remove(state["timer"])
    if state["ctx"] is not None:
        state["ctx"].close()
    dialog.destroy()
    return ok


SELFTEST = {"cancel": False}


def selftest_step(config):
    """CI hook (plugin/tests/gimp_dialog.py): RESTYLE_SELFTEST_DIALOG names a
    file of steps, one per interactive run: "ok|cancel METHOD [cancel-run|-]
    [screenshot.png]". Sets the method (GIMP restores the last values in
    interactive runs) and says what to press."""
    path = os.environ.get("RESTYLE_SELFTEST_DIALOG")
    if not path:
        return None
    with open(path) as f:
        lines = [l.split() for l in f if l.strip()]
    with open(path, "w") as f:
        f.writelines(" ".join(l) + "\n" for l in lines[1:])
    step = lines[0]
    config.set_property("method", step[1])
    config.set_property("style-file", Gio.File.new_for_path(os.environ["RESTYLE_STYLE"]))
    config.set_property("max-seconds", 60.0)
    config.set_property("new-layer", True)
    if step[1] == "multistyle26":
        config.set_property("builtin-style", "crimson")
    SELFTEST["cancel"] = len(step) > 2 and step[2] == "cancel-run"
    return step


def options_from(config):
    """Keyword arguments of restyle_binding.Context.stylize from the procedure's config."""
    method = config.get_property("method")
    o = {"method": method, "strength": config.get_property("strength"),
         "preserve_color": config.get_property("preserve-color"),
         "working_size": config.get_property("working-size"), "device": config.get_property("device")}
    if method in rb.STYLE_METHODS:
        style = config.get_property("style-file")
        o["style_path"] = style.get_path() if style is not None else None
    if method == "multistyle26":
        o["builtin_style"] = config.get_property("builtin-style")
    if method == "fast":
        # A file chosen wins over the list (so scripts that set only model-file keep working).
        model = config.get_property("model-file")
        o["model_path"] = model.get_path() if model is not None else dict(rb.fast_models()).get(
            config.get_property("fast-model"), None)
    if method == "gatys-improved":
        o["max_seconds"] = config.get_property("max-seconds")
    return o


def check_options(o):
    if o["method"] in rb.STYLE_METHODS and not o.get("style_path"):
        return "choose a style image"
    return None


class CancelWindow:
    """Interactive runs: a small window with the stage and a Cancel button
    (GIMP's own progress bar cannot reach the plug-in's loop). GTK events are
    handled from the progress callback, on this thread."""

    def __init__(self):
        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk
        self.Gtk, self.cancelled = Gtk, False
        self.win = Gtk.Window(title="restyle")
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, margin=12)
        self.label = Gtk.Label(label="Starting...")
        self.bar = Gtk.ProgressBar()
        self.button = Gtk.Button(label="Cancel")
        self.button.connect("clicked", self.cancel)
        for w in (self.label, self.bar, self.button):
            box.pack_start(w, False, False, 0)
        self.win.add(box)
        self.win.set_default_size(360, -1)
        self.win.show_all()
        self.pump()

    def cancel(self, *_):
        self.cancelled = True

    def pump(self):
        while self.Gtk.events_pending():
            self.Gtk.main_iteration_do(False)

    def update(self, text, fraction):
        self.label.set_text(text)
        self.bar.set_fraction(max(0.0, min(1.0, fraction)))
        self.pump()
        return self.cancelled

    def close(self):
        self.win.destroy()
        self.pump()


def progress_text(stage):
    return "Loading the networks..." if stage == "loading networks" else "Neural style transfer: " + stage


def run(procedure, run_mode, image, drawables, config, data):
    if len(drawables) != 1:
        return fail(procedure, "select exactly one layer")
    drw = drawables[0]
    if run_mode == Gimp.RunMode.INTERACTIVE and not show_dialog(procedure, config, image, drw):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    opts = options_from(config)
    problem = check_options(opts)
    if problem:
        return fail(procedure, problem)
    new_layer = config.get_property("new-layer")

    ok, x, y, w, h = drw.mask_intersect()  # selection bounds, drawable coordinates
    if not ok:
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())
    babl, fmt = pick_format(image, drw)
    rect = Gegl.Rectangle.new(x, y, w, h)
    pixels = bytearray(drw.get_buffer().get(rect, 1.0, babl, Gegl.AbyssPolicy.CLAMP))

    Gimp.progress_init("Neural style transfer")
    window = CancelWindow() if run_mode == Gimp.RunMode.INTERACTIVE else None
    stages = []

    def progress(stage, fraction):
        stages.append(stage)
        Gimp.progress_set_text(progress_text(stage))
        Gimp.progress_update(fraction)
        if SELFTEST["cancel"] and len(stages) >= 3 and window is not None:
            print("RESTYLE-GIMP-DIALOG clicking Cancel at %r" % stage, flush=True)
            window.button.clicked()  # test hook: the real button, mid-run
        return window.update(progress_text(stage), fraction) if window is not None else False

    try:
        with rb.Context() as ctx:
            ctx.stylize(pixels, w, h, fmt, progress=progress, **opts)
    except rb.RestyleError as e:
        Gimp.progress_end()
        if window is not None:
            window.close()
        if e.cancelled:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        return fail(procedure, str(e))
    if window is not None:
        window.close()

    image.undo_group_start()  # one undo step either way
    if new_layer:
        target = add_result_layer(image, drw, rb.layer_name(opts["method"], opts.get("style_path"),
                                                            opts.get("builtin_style"), opts.get("model_path")))
    else:
        target = drw
    shadow = target.get_shadow_buffer()  # shadow + merge: the selection masks the result
    shadow.set(rect, babl, bytes(pixels))
    shadow.flush()
    target.merge_shadow(True)
    if new_layer:
        clear_outside_selection(image, target)
    target.update(x, y, w, h)
    image.undo_group_end()
    Gimp.progress_end()
    Gimp.displays_flush()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


def add_result_layer(image, drw, name):
    """A copy of the source layer, with alpha, right above it, named after
    the style; the result is merged into it and the rest cleared."""
    layer = Gimp.Layer.new_from_drawable(drw, image)
    layer.set_name(name)
    parent = drw.get_parent()
    image.insert_layer(layer, parent, image.get_item_position(drw))
    if not layer.has_alpha():
        layer.add_alpha()
    return layer


def clear_outside_selection(image, layer):
    """Transparent outside the selection (partly inside a soft one), so the
    image looks as after an in-place run while the source stays as it was."""
    if Gimp.Selection.is_empty(image):
        return
    saved = image.get_selection().save(image)  # the user's selection, restored after
    Gimp.Selection.invert(image)
    layer.edit_clear()
    image.select_item(Gimp.ChannelOps.REPLACE, saved)
    image.remove_channel(saved)


def preview_pixels(image, drw, opts, side=rb.PREVIEW_SIDE, context=None):
    """(w, h, RGBA8 bytes): the stylized thumbnail of the layer's selected
    area, read by GEGL at a reduced scale. Reads only: the image, its layers
    and its undo stack are not touched."""
    ok, x, y, w, h = drw.mask_intersect()
    if not ok:
        raise rb.RestyleError(2, "the selection does not cover this layer")
    tw, th, scale = rb.preview_size(w, h, side)
    rect = Gegl.Rectangle.new(int(x * scale), int(y * scale), tw, th)
    px = bytes(drw.get_buffer().get(rect, scale, "R'G'B'A u8", Gegl.AbyssPolicy.CLAMP))
    own = context is None
    ctx = context or rb.Context()
    try:
        out = ctx.preview(px, tw, th, rb.FORMAT_RGBA8, **opts)
    finally:
        if own:
            ctx.close()
    return tw, th, bytes(out)


def run_preview(procedure, run_mode, image, drawables, config, data):
    """plug-in-restyle-preview: the thumbnail as (width, height, RGBA8 bytes)."""
    if len(drawables) != 1:
        return fail(procedure, "select exactly one layer")
    opts = options_from(config)
    problem = check_options(opts)
    if problem:
        return fail(procedure, problem)
    try:
        w, h, px = preview_pixels(image, drawables[0], opts)
    except rb.RestyleError as e:
        return fail(procedure, str(e))
    r = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())
    for i, v in enumerate((GObject.Value(GObject.TYPE_INT, w), GObject.Value(GObject.TYPE_INT, h),
                           GObject.Value(GLib.Bytes, GLib.Bytes.new(px))), start=1):
        r.remove(i)  # the return values come filled with defaults
        r.insert(i, v)
    return r


def choice(*items):
    c = Gimp.Choice.new()
    for i, (nick, label) in enumerate(items):
        c.add(nick, i, label, "")
    return c


def library_lists():
    """(method choices, style names, devices, fast models) from the library;
    without it, the arguments still register (the run then reports the load error)."""
    methods = [("arbitrary", "Arbitrary (any style image)"), ("multistyle26", "Built-in styles (26)"),
               ("fast", "Fast (a trained network; default: the built-in starry_night)")]
    try:
        names, devices, fast = rb.style_names(), rb.devices(), rb.fast_models()
        if rb.weights_file_exists(*rb.ADAIN_FILES):
            methods.append(("adain", "AdaIN (any style image)"))
    except rb.RestyleError:
        names, devices = ["style-%d" % i for i in range(rb.MULTISTYLE26_STYLES)], ["cpu"]
        fast = [("starry_night", "starry_night")]
    methods.append(("gatys-improved", "Gatys improved (slow, time budget)"))
    return methods, names, devices, fast


def add_settings(p):
    """The settings both procedures take (the filter and its preview)."""
    rw = GObject.ParamFlags.READWRITE
    methods, names, devices, fast = library_lists()
    p.add_choice_argument("method", "_Method", "Style transfer method", choice(*methods), "arbitrary", rw)
    p.add_file_argument("style-file", "St_yle image", "Painting whose style to apply (arbitrary, AdaIN, Gatys)",
                        Gimp.FileChooserAction.OPEN, True, None, rw)
    # nick = the library's style name (as the CLI's --style-id takes it)
    p.add_choice_argument("builtin-style", "_Built-in style", "One of the 26 built-in styles, by name",
                          choice(*[(n, n.replace("-", " ").capitalize()) for n in names]), names[0], rw)
    # Found when GIMP starts: the built-in network first, then fast-NAME.safetensors
    # in the weights folder and the restyle cache (restyle_fast_models).
    p.add_choice_argument("fast-model", "_Fast network", "Fast method: a network found in the weights folder or cache",
                          choice(*[(n, n if n != "starry_night" else "starry_night (built in)") for n, _ in fast]),
                          fast[0][0], rw)
    p.add_file_argument("model-file", "Fast network _file", "Fast method: a .pth/.safetensors file (overrides the list)",
                        Gimp.FileChooserAction.OPEN, True, None, rw)
    p.add_double_argument("strength", "S_trength", "How strongly to apply the style", 0.0, 1.0, 1.0, rw)
    p.add_choice_argument("preserve-color", "_Preserve colours", "Keep the layer's colours",
                          choice(("none", "No"), ("luminance", "Luminance only"),
                                 ("histogram", "Match colours")), "none", rw)
    p.add_int_argument("working-size", "_Working size",
                       "Longest side to work at (0 = as is; Gatys: 512 px at most)", 0, 8192, 0, rw)
    p.add_double_argument("max-seconds", "Time b_udget (s)",
                          "Gatys improved: stop after this many seconds with the best image so far (0 = no limit)",
                          0.0, 86400.0, 120.0, rw)
    p.add_choice_argument("device", "_Device", "Where to compute",
                          choice(*[(d, "CPU" if d == "cpu" else "CUDA (GPU)") for d in devices]), "cpu", rw)
    p.add_boolean_argument("new-layer", "Result on a _new layer",
                           "Put the result on a new layer above the source, named after the style", True, rw)


class Restyle(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PROC, PREVIEW_PROC]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        rw = GObject.ParamFlags.READWRITE
        if name == PREVIEW_PROC:
            p = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run_preview, None)
            p.set_image_types("RGB*")
            p.set_documentation("A stylized thumbnail of the layer (or selection)",
                                "What the restyle filter's dialog shows: the layer's selected area read at %d px "
                                "at most and stylized with the same settings; the image is not modified."
                                % rb.PREVIEW_SIDE, name)
            p.set_attribution("restyle", "restyle contributors", "2026")
            add_settings(p)
            p.add_int_return_value("width", "Width", "Thumbnail width", 0, 1 << 16, 0, rw)
            p.add_int_return_value("height", "Height", "Thumbnail height", 0, 1 << 16, 0, rw)
            p.add_bytes_return_value("pixels", "Pixels", "RGBA, 8 bits per channel, rows top to bottom", rw)
            return p
        p = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        p.set_image_types("RGB*")
        p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        p.set_menu_label("Neural Style Transfer (restyle)...")
        p.add_menu_path("<Image>/Filters/Artistic")
        p.set_documentation("Paint the layer in the style of an image",
                            "Neural style transfer with restyle: the arbitrary network (and AdaIN) take any style "
                            "image; 26 built-in styles by name; fast networks; Gatys improved optimises the image "
                            "itself (best quality, slow: bounded by the time budget). Honours the selection; the "
                            "result goes on a new layer above (default) or replaces the layer, one undo step.", name)
        p.set_attribution("restyle", "restyle contributors", "2026")
        add_settings(p)
        return p


Gimp.main(Restyle.__gtype__, sys.argv)
