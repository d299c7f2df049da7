"""Verifies a user-service access token with PyJWT, starting from the issuer URL alone.

usage: pyjwt_verify.py ISSUER TOKEN -> prints the verified claims as JSON
"""
import json
import sys
import urllib.request

import jwt

issuer, token = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(issuer.rstrip("/") + "/.well-known/openid-configuration") as r:
    discovery = json.load(r)
assert discovery["issuer"] == issuer, discovery
client = jwt.PyJWKClient(discovery["jwks_uri"])
key = client.get_signing_key_from_jwt(token)
claims = jwt.decode(
    token,
    key.key,
    algorithms=discovery["id_token_signing_alg_values_supported"],
    issuer=issuer,
    options={"require": ["exp", "iss", "sub"]},
)
print(json.dumps({"claims": claims, "kid": key.key_id}))
