"""The exception tree. Each class is an outcome with an HTTP status and an SDMX error code; the one
exception handler in `app.api.errors` turns any of them into an SDMX error message.

    DsmError                      500  code 500  Internal Server Error
    ├── BadRequest                400  code 140  Syntax error (a query, a parameter, a message)
    │   └── UrlTooLong            414  code 140
    ├── Unauthorized              401  code 110  no or bad credentials
    ├── Forbidden                 403  code 150  Semantic error: not allowed for this principal
    ├── NotFound                  404  code 100  No results found
    ├── NotAcceptable             406  code 406  no format we write matches Accept
    ├── Conflict                  409  code 409  change refused: others depend on it, or it exists
    ├── TooLarge                  413  code 130  Response/request too large
    ├── Invalid                   422  code 422  a well-formed message whose content is wrong
    ├── TooManyRequests           429  code 429  over a rate limit or the upload cap (Retry-After)
    ├── NotImplementedResource          501  code 501  a standard resource DSM does not implement
    └── Unavailable               503  code 503  database or identity provider not reachable

SDMX REST defines codes 100-510; 406, 409, 422 and 429 have no SDMX code, so they carry their HTTP status
as code (the spec reserves 1000+ for custom codes, but clients read the HTTP status anyway).
"""


class DsmError(Exception):
    status = 500
    code = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, **context: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class BadRequest(DsmError):
    status, code, title = 400, 140, "Syntax error"


class UrlTooLong(BadRequest):
    status = 414
    title = "URI Too Long"


class Unauthorized(DsmError):
    status, code, title = 401, 110, "Unauthorized"


class Forbidden(DsmError):
    status, code, title = 403, 150, "Semantic error"


class NotFound(DsmError):
    status, code, title = 404, 100, "No results found"


class NotAcceptable(DsmError):
    status, code, title = 406, 406, "Not Acceptable"


class Conflict(DsmError):
    status, code, title = 409, 409, "Conflict"


class TooLarge(DsmError):
    status, code, title = 413, 130, "Request or response too large"


class Invalid(DsmError):
    status, code, title = 422, 422, "Unprocessable content"


class TooManyRequests(DsmError):
    status, code, title = 429, 429, "Too many requests"

    def __init__(self, detail: str, retry_after: int = 1, **context: object) -> None:
        super().__init__(detail, **context)
        self.retry_after = retry_after  # seconds, sent as Retry-After


class NotImplementedResource(DsmError):
    status, code, title = 501, 501, "Not implemented"


class Unavailable(DsmError):
    status, code, title = 503, 503, "Service unavailable"
