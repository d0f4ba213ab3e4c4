"""Training as background jobs: the manager and its queue, one job, machine-wide training slots, child processes
(at training priority), the torchrun, Ray and ZeroGPU backends, and the shared server's permissions and
quotas.

Each module is imported by its full name (``gan_core.jobs.<module>``); this package re-exports nothing,
so importing one of its modules never imports the others.
"""
