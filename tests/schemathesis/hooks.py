"""Schemathesis hooks for Andi's run (loaded through SCHEMATHESIS_HOOKS by run.sh)."""

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    # Andi's operations accept a key in `Authorization: Bearer` OR in `x-api-key` (two
    # alternative security requirements). Schemathesis fills both schemes of a case at once,
    # with different values; the server rightly answers that with 400
    # `conflicting_credentials` (RFC 6750 section 3.1: a request that uses more than one
    # method for its token is `invalid_request`, 400), which the positive checks take for a
    # refused valid request. A client sends one credential, so a case carries one: the
    # Authorization header when both were generated. tests/api/auth.rs covers the conflict.
    headers = case.headers or {}
    names = {name.lower(): name for name in headers}
    if "authorization" in names and "x-api-key" in names:
        del headers[names["x-api-key"]]
