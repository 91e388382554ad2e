import pytest

from metrics.label_values import CLOSE_REASONS, close_reason


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (1000, "normal"),
        (1005, "normal"),
        (1001, "going_away"),
        (1002, "protocol_error"),
        (1003, "protocol_error"),
        (1007, "protocol_error"),
        (1009, "protocol_error"),
        (1010, "protocol_error"),
        (1008, "policy_violation"),
        (1011, "internal_error"),
        (1012, "service_restart"),
        (1013, "service_restart"),
        (1014, "service_restart"),
        (1006, "abnormal"),
        (None, "abnormal"),
        (3000, "application"),
        (4403, "application"),
        (4999, "application"),
        (2999, "other"),
        (5000, "other"),
        (1004, "other"),
        (1015, "other"),
        (-1, "other"),
        ("1000", "other"),
        (True, "other"),
    ],
)
def test_close_codes_map_to_the_documented_reason(code: object, reason: str) -> None:
    assert close_reason(code) == reason


def test_every_code_maps_inside_the_taxonomy() -> None:
    assert {close_reason(code) for code in range(0, 70000)} <= set(CLOSE_REASONS)
