"""Background work: Dramatiq actors, the broker from the settings, and the scheduler.

`outreach worker` runs `dramatiq workers.tasks`; `outreach scheduler` runs
`workers.scheduler.run_scheduler_forever`; with no REDIS_URL the web process runs both
in-process (`workers.broker.start_embedded_worker`).
"""
