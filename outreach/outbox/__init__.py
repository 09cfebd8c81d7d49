"""The transactional outbox, below every feature: enqueue, claim, finish.

A feature writes its notices here in its own transaction; `outreach.notifications`
builds and sends them. Nothing in this package reads a feature's rules.
"""
