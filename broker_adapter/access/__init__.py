"""Access control: credentials (API keys, JWTs), roles, rate limits, the audit log, and the gate every
NGSI-LD, admin and IoT-agent request passes (gate.py). Operators: docs/access.md.

    roles.py          roles, actions, the Principal a request acts as
    apikeys.py        API keys: format, hashing, the credential record
    jwt_tokens.py     JWT bearer tokens against a JWKS; claims → roles per tenant
    authenticate.py   bearer token → principal, cached
    ratelimit.py      token buckets per credential
    audit.py          the audit log
    gate.py           classify → authenticate → rate limit → authorise, as ASGI middleware
    setup.py          start-up: VERBUND_AUTH, the bootstrap key
"""
