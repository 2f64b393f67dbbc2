"""File transfers on channel 5 under the `files` scope (issue #17, docs/protocol.md "Files"): the wire format
(wire.py), the rules for names and paths on the customer's disk (names.py), a file being received (incoming.py) or
sent (outgoing.py), and the agent's side of it all, which asks the customer about each file (transfers.py)."""
