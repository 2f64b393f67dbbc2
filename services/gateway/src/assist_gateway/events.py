"""Events and the gateway: it publishes none (it is the caller of commands); its consumers live in the relay.

The relay (`relay/`) cuts on `consent.revoked` and follows `session.*` for the live UI; the outbox tables
exist in the gateway database only because every service carries the platform tables.
"""
