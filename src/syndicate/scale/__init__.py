"""Scale-out: Celery workers that send the outbox from several processes and machines.

A thin shell, like the CLI: the pipeline (outbox, dispatcher, backends) does the work and
never imports Celery. ``publish`` reserves due rows and publishes one task per batch,
carrying ids only; ``tasks`` is what a worker runs for a task; ``app`` wires Celery;
``ratelimit`` keeps one messages-per-second limit across every worker. Needs the
``scale`` extra. See docs/deployment.md.
"""
