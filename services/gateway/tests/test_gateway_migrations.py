"""The gateway service's migrations build exactly what its models declare, and upgrade older databases in place."""

from __future__ import annotations

from migration_checks import assert_fresh_database_matches_models, assert_upgrades_in_place, service_database


def test_a_fresh_gateway_database_migrated_to_heads_matches_the_models(database_location):
    assert_fresh_database_matches_models(service_database("gateway", database_location))


def test_a_gateway_database_migrated_before_the_platform_branch_upgrades_in_place(database_location, tmp_path):
    assert_upgrades_in_place(service_database("gateway", database_location), tmp_path,
                             # 0004: the relay's record of file transfers (#17); 0005: recordings (#19)
                             new_tables={"file_transfer", "recording", "recording_object"},
                             # 0003 turns queued revocations into outbox events and drops their table
                             dropped_tables=frozenset({"pending_revocation"}))
