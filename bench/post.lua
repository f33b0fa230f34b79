-- A fixed POST (client_credentials, introspection, userinfo POST)
wrk.method = "POST"
wrk.body = os.getenv("BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("AUTH_HEADER")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
