"""What a run leaves on disk: the run folder's layout (rundir), checkpoints and generator exports (checkpoint),
and crash-safe file writes (fileio).

Each module is imported by its full name (``gan_core.storage.<module>``); this package re-exports nothing,
so importing one of its modules never imports the others.
"""
