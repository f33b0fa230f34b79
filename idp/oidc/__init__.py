"""OpenID Connect provider: discovery, keys, authorization, token, userinfo, logout."""
