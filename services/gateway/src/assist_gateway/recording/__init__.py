"""Session recordings (issue #19, docs/relay.md "Recording"): what the consultant saw and did, kept in JetStream's
object store and indexed in the gateway's database.

- format.py: the stored forms (terminal lines, screen records, event lines, object names, the asciicast file); pure.
- capture.py: what each frame and control message the consultant's endpoint passes becomes; pure.
- store.py: the object store, a bucket per retention class.
- recorder.py: a part's recorder (the taps on the relay's path, and the task that writes) and the registry.
- reading.py, retention.py, rules.py, links.py: reading back, deleting, and playback links.
"""
