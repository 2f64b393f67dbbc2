"""The customer-side agent (CONTRACT §1 `assist agent`)."""
