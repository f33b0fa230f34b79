"""Floor 1: a raw WSGI "hello JSON" app, the cost of the server itself (no framework)."""

BODY = b'{"hello":"world"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
