from tests.unit.api.conftest import viewer_headers  # noqa: F401
