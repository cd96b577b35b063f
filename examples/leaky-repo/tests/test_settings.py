"""A test fixture key: reported, but marked as being in a test path."""

FAKE_STRIPE_KEY = "sk_test_lqsajAIxNKu8iS2G8NPRVdD5"


def test_settings_load() -> None:
    assert FAKE_STRIPE_KEY.startswith("sk_test_")
