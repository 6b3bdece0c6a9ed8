"""Signing in through the company's identity provider: OIDC and OpenShift OAuth.

`common.py` holds what both share (the provider interface, PKCE, the `next` rule),
`oidc.py` the OpenID Connect client (Authlib; the id_token checked with joserfc), `openshift.py`
the OpenShift OAuth client. The routes are in `berth.api.routes.sign_in`; the rules of who may
enter with which role in `berth.domain.identity`; users and groups in `berth.store.identity`.
"""
