from tests.broker.conftest import secured_broker  # noqa: F401  (re-exported fixture)
