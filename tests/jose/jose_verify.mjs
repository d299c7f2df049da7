// Verifies a user-service access token with the `jose` npm package, starting from the issuer URL alone.
// usage: node jose_verify.mjs ISSUER TOKEN  -> prints the verified claims as JSON
import { createRemoteJWKSet, jwtVerify } from "jose";

const [issuer, token] = process.argv.slice(2);
const discovery = await (await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`)).json();
if (discovery.issuer !== issuer) throw new Error(`discovery names ${discovery.issuer}`);
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
const { payload, protectedHeader } = await jwtVerify(token, jwks, {
  issuer,
  algorithms: discovery.id_token_signing_alg_values_supported,
});
console.log(JSON.stringify({ claims: payload, kid: protectedHeader.kid }));
