-- A fixed GET with an optional Authorization header (userinfo)
local auth = os.getenv("AUTH_HEADER")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
