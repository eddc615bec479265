# The GIMP plug-in's dialog in interactive runs, under Xvfb (run by
# .ci/plugins.sh): the plug-in, with RESTYLE_SELFTEST_DIALOG naming a file
# of steps, sets the method, waits for its preview, saves the dialog as PNG
# and presses OK or Cancel. Checks in GIMP's pixels:
#  1. OK, arbitrary: preview shown, result on a new layer, source identical;
#  2. OK, built-in style (screenshot), then
#  3. OK, Gatys improved with the Cancel window's button clicked mid-run:
#     status CANCEL, the image unchanged (no new layer, same pixels);
#  4. Cancel in the dialog: status CANCEL, nothing changed.
# Prints RESTYLE-GIMP-DIALOG lines and RESTYLE-GIMP-DIALOG-ALL-OK.
import os
import numpy as np

steps = os.environ["RESTYLE_SELFTEST_DIALOG"]
shots = os.environ.get("RESTYLE_SHOTS_DIR", "")
with open(steps, "w") as f:
    f.write("ok arbitrary - %s\n" % (os.path.join(shots, "gimp-dialog.png") if shots else "-"))
    f.write("ok multistyle26 - %s\n" % (os.path.join(shots, "gimp-builtin.png") if shots else "-"))
    f.write("ok gatys-improved cancel-run\n")
    f.write("cancel arbitrary\n")


def pixels(drw):
    w, h = drw.get_width(), drw.get_height()
    raw = drw.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, "R'G'B'A float", Gegl.AbyssPolicy.CLAMP)
    return np.frombuffer(bytes(raw), dtype=np.float32).reshape(h, w, 4).copy()


img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.environ["RESTYLE_IN"]))
src = img.get_layers()[0]
before = pixels(src)
img.select_rectangle(Gimp.ChannelOps.REPLACE, 16, 12, 64, 40)
proc = Gimp.get_pdb().lookup_procedure("plug-in-restyle")


def run():
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [src])
    return proc.run(cfg).index(0)


for label, want_status, want_layers in (("arbitrary", Gimp.PDBStatusType.SUCCESS, 2),
                                        ("multistyle26", Gimp.PDBStatusType.SUCCESS, 3),
                                        ("gatys-improved, cancelled mid-run", Gimp.PDBStatusType.CANCEL, 3),
                                        ("dialog cancelled", Gimp.PDBStatusType.CANCEL, 3)):
    status = run()
    layers = img.get_layers()
    same = np.array_equal(before, pixels(src))
    print("RESTYLE-GIMP-DIALOG run %s: status %s, layers %s, source identical %s"
          % (label, status.value_nick, [l.get_name() for l in layers], same), flush=True)
    assert status == want_status and len(layers) == want_layers and same, (label, status, len(layers))
print("RESTYLE-GIMP-DIALOG-ALL-OK", flush=True)
