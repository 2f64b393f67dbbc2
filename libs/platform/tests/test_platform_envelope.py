from assist_platform.envelope import CloudEvent, new_event


def test_an_event_round_trips_through_json_unchanged():
    event = new_event(source="assist/test", type="session.requested", subject="s-1", data={"name": "Иван"})
    again = CloudEvent.from_bytes(event.to_bytes())
    assert again == event
    assert again.data["name"] == "Иван"


def test_every_event_has_its_own_id_and_a_utc_time():
    first = new_event(source="assist/test", type="x.y", subject="s", data={})
    second = new_event(source="assist/test", type="x.y", subject="s", data={})
    assert first.id != second.id
    assert first.time.endswith("Z") and first.specversion == "1.0"
    assert first.datacontenttype == "application/json"
