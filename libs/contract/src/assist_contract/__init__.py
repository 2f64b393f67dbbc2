"""What the services say to each other over NATS, written once (docs/commands.md, docs/events.md).

One module per service's public face: `consent`, `session`, `billing` and `gateway` each hold the subjects of the
commands that service answers (`CommandSpec`: subject, input model, output model, a typed call) and the events it
publishes (`EventSpec`: type = subject, payload model); `streams` the JetStream streams that keep those events.
Both sides import them: the owner registers its handlers through the spec, a caller calls the spec; no subject or
event type is written anywhere else (tests/test_contract_subjects.py). The platform stays below: this package imports `assist_platform`, never the
reverse.
"""
