"""The reference's pytest conformance suite, run against our worker (see conftest.py)."""
from vgi_rpc.conformance._pytest_suite import *  # noqa: F401,F403
