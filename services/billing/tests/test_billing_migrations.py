"""The billing service's migrations build exactly what its models declare, and upgrade older databases in place."""

from __future__ import annotations

from migration_checks import assert_fresh_database_matches_models, assert_upgrades_in_place, service_database


def test_a_fresh_billing_database_migrated_to_heads_matches_the_models(database_location):
    assert_fresh_database_matches_models(service_database("billing", database_location))


def test_a_billing_database_migrated_before_the_platform_branch_upgrades_in_place(database_location, tmp_path):
    assert_upgrades_in_place(service_database("billing", database_location), tmp_path, new_tables={"audit_entry"})
