# Opens the plug-in's dialog (interactive run mode) so that the plug-in,
# with RESTYLE_SCREENSHOT set, saves it as PNG and dismisses it. Docs only.
import os
img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.environ["RESTYLE_IN"]))
proc = Gimp.get_pdb().lookup_procedure("plug-in-restyle")
cfg = proc.create_config()
cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
cfg.set_property("image", img)
cfg.set_core_object_array("drawables", [img.get_layers()[0]])
proc.run(cfg)
