"""Thin adapters: HTTP routes, SQS consumers, schedules. They parse, authorise,
call one domain service and shape the answer; they never build a key."""
