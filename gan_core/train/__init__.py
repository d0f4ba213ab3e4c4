"""Training: the Trainer and its step strategies (GAN, pix2pix), its events, live steering (control), the step
log, the precision autotune (speed), data-parallel training, TensorBoard files, the recipes and the time plan
of a preset with its speed probe.

Each module is imported by its full name (``gan_core.train.<module>``); this package re-exports nothing,
so importing one of its modules never imports the others.
"""
