// A relying party built on openid-client v6 (OpenID Certified), driven by
// tests/interop/test_openid_client.py.
//   node rp.mjs start  ISSUER CLIENT_ID SECRET REDIRECT_URI
//     -> {"url", "verifier", "nonce", "state"}
//   node rp.mjs finish ISSUER CLIENT_ID SECRET REDIRECT_URI CALLBACK_URL VERIFIER NONCE STATE
//     -> {"claims", "userinfo", "refreshed"}
import * as client from 'openid-client';

const [mode, issuer, clientId, secret, redirectUri, ...rest] = process.argv.slice(2);
const options = { execute: [client.allowInsecureRequests] };  // the test IdP is http://localhost
const config = await client.discovery(new URL(issuer), clientId, secret,
  client.ClientSecretBasic(secret), options);

if (mode === 'start') {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce, state,
  });
  console.log(JSON.stringify({ url: url.href, verifier, nonce, state }));
} else {
  const [callbackUrl, verifier, nonce, state] = rest;
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  console.log(JSON.stringify({ claims, userinfo, refreshed_sub: refreshed.claims().sub }));
}
