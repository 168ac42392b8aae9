"""authorization_drift, shape ``anon_allowed``: a release lets requests without credentials in.

Logged-out browsers and expired sessions call a busy GET route all day and
get 401 (12-25 % of its requests); after the release their requests are
answered like everyone's. Otherwise as ``auth_loosened``.
"""

from __future__ import annotations

from detector.simulate.anomalies.auth_loosened import AuthLoosened
from detector.simulate.catalog import RouteSpec


class AnonAllowed(AuthLoosened):
    """Anonymous requests answered 401 until a release, 2xx after it.

    >>> AnonAllowed.kind, AnonAllowed.shape, AnonAllowed.denial
    ('authorization_drift', 'anon_allowed', 401)
    """

    shape = "anon_allowed"
    denial = 401
    what = "requests without credentials"

    def fits(self, r: RouteSpec) -> bool:
        # A signed-in GET: one user's object or the user's own profile, not a login.
        return r.method == "GET" and not r.auth and (
            "{" in r.template or r.template.endswith("/me"))
