"""WebSocket close codes of the relay (CONTRACT §3), and the reasons we give with them."""

from ..domain import ended_reason  # noqa: F401  (the 4410 reason: a pure rule, read back by the recording)

NOT_AUTHENTICATED = 4401
NOT_PERMITTED = 4403
LEASE_LAPSED = 4408  # extension: the gateway could not confirm the consent within its lease (fail closed)
SESSION_ENDED = 4410
TOO_MANY_ATTEMPTS = 4429  # extension: too many session-code attempts from this address
TRY_AGAIN_LATER = 1013
INTERNAL_ERROR = 1011
MESSAGE_TOO_BIG = 1009

# The reason of a 4401 that closes an open consultant socket: the login that opened it was logged out or expired.
LOGIN_ENDED = "your login has ended: log in again"
