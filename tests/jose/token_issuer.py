"""A stand-in identity provider for the end-to-end tests of external issuers (API.md 7): it serves
a JSON Web Key Set and signs tokens with PyJWT, the way Auth0 or any OIDC provider does.

    python token_issuer.py PORT

GET  /.well-known/jwks.json   the published public keys
POST /keys   {"alg": "RS256" | "ES256" | "EdDSA", "publish": bool}  -> {"kid"}
             a new key pair; published in the key set unless "publish" is false
POST /token  {"kid", "claims"}  -> {"token"}   claims signed with that key, its kid in the header

Prints "ready" once it listens. Only for tests: it listens on 127.0.0.1 and trusts every caller.
"""

import json
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

KEYS = {}  # kid -> {"alg", "private", "jwk", "published"}


def new_key(alg):
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise ValueError(alg)
    kid = uuid.uuid4().hex
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return kid, {"alg": alg, "private": private, "jwk": jwk}


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/.well-known/jwks.json":
            keys = [k["jwk"] for k in KEYS.values() if k["published"]]
            self.answer(200, {"keys": keys})
        else:
            self.answer(404, {})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/keys":
            kid, key = new_key(body["alg"])
            key["published"] = body.get("publish", True)
            KEYS[kid] = key
            self.answer(200, {"kid": kid})
        elif self.path == "/token":
            key = KEYS[body["kid"]]
            token = jwt.encode(body["claims"], key["private"], algorithm=key["alg"],
                               headers={"kid": body["kid"]})
            self.answer(200, {"token": token})
        else:
            self.answer(404, {})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
