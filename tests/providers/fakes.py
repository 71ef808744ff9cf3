"""Provider fakes: check our request as the provider would, answer its documented shapes.

Each fake is a handler for :class:`tests.providers.server.APIServer`. The outcome per
message follows the recipient's local part, so one batch can mix outcomes:
``inactive…`` (Postmark 406), ``invalid…`` (an address the provider refuses),
``rejected…`` (SES MessageRejected); anyone else is accepted. Accepted messages are
kept in ``accepted`` for assertions.
"""

from __future__ import annotations

import base64
import itertools
import json
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from tests.providers.server import Answer, Seen

SHAPES = Path(__file__).parent / "shapes"


def shapes(provider: str) -> dict[str, Any]:
    """The recorded answer shapes of ``provider``."""
    loaded: dict[str, Any] = json.loads((SHAPES / f"{provider}.json").read_text())
    return loaded


def _local(address: str) -> str:
    return parseaddr(address)[1].partition("@")[0]


def _fill(shape: Any, **values: str) -> Any:
    # Put the request's values into a shape's "{to}"-style placeholders.
    text = json.dumps(shape)
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return json.loads(text)


class PostmarkFake:
    """``POST /email/batch``: token, JSON array of at most 500, one answer per message."""

    path = "/email/batch"

    def __init__(self, token: str = "postmark-token") -> None:
        self.token = token
        self.shapes = shapes("postmark")
        self.accepted: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def __call__(self, seen: Seen) -> Answer:
        if seen.headers.get("x-postmark-server-token") != self.token:
            return Answer(401, self.shapes["unauthorized"])
        if "application/json" not in seen.headers.get("content-type", ""):
            return Answer(422, {"ErrorCode": 409, "Message": "JSON required"})
        batch = seen.json()
        if not isinstance(batch, list):
            return Answer(422, {"ErrorCode": 402, "Message": "Invalid JSON"})
        if len(batch) > 500:
            return Answer(422, self.shapes["too_many"])
        return Answer(200, [self._one(item) for item in batch])

    def _one(self, item: dict[str, Any]) -> dict[str, Any]:
        required = ("From", "To", "Subject", "MessageStream")
        if any(not item.get(k) for k in required) or not (
            item.get("HtmlBody") or item.get("TextBody")
        ):
            return {"ErrorCode": 300, "Message": "Invalid email request: missing fields."}
        local = _local(item["To"])
        to = parseaddr(item["To"])[1]
        if local.startswith("inactive"):
            return dict(_fill(self.shapes["inactive"], to=to))
        if local.startswith("invalid"):
            return dict(_fill(self.shapes["invalid"], to=to))
        self.accepted.append(item)
        answer = dict(self.shapes["ok"])
        answer.update(To=item["To"], MessageID=f"pm-{next(self._ids):04d}")
        return answer


class SendGridFake:
    """``POST /v3/mail/send``: bearer key, v3 JSON rules, 202 + ``X-Message-Id``."""

    path = "/v3/mail/send"

    def __init__(self, key: str = "SG.test-key") -> None:
        self.key = key
        self.shapes = shapes("sendgrid")
        self.accepted: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def __call__(self, seen: Seen) -> Answer:
        if seen.headers.get("authorization") != f"Bearer {self.key}":
            return Answer(401, self.shapes["unauthorized"])
        body = seen.json()
        problem = self._problem(body)
        if problem:
            return Answer(400, self.shapes[problem] if problem in self.shapes else _error(problem))
        self.accepted.append(body)
        return Answer(202, b"", {"X-Message-Id": f"sg-{next(self._ids):04d}"})

    @staticmethod
    def _problem(body: dict[str, Any]) -> str | None:
        personalizations = body.get("personalizations") or []
        if not 1 <= len(personalizations) <= 1000:
            return "personalizations: between 1 and 1000"
        for p in personalizations:
            for to in p.get("to") or [{}]:
                if not to.get("email"):
                    return "personalizations.to: email required"
                if to["email"].startswith("invalid"):
                    return "invalid_to"
        if not body.get("from", {}).get("email") or not body.get("subject"):
            return "from and subject required"
        types = [c.get("type") for c in body.get("content") or []]
        if not types:
            return "content required"
        if "text/html" in types and "text/plain" in types and types.index("text/plain") != 0:
            return "bad_order"
        args = body.get("custom_args", {})
        if not all(isinstance(v, str) for v in args.values()):
            return "custom_args values must be strings"
        return None


def _error(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": None, "help": None}]}


class MailgunFake:
    """``POST /v3/<domain>/messages.mime``: basic auth api:key, multipart ``to`` + ``message``."""

    def __init__(self, domain: str = "mg.example.com", key: str = "key-test") -> None:
        self.domain = domain
        self.key = key
        self.path = f"/v3/{domain}/messages.mime"
        self.shapes = shapes("mailgun")
        self.accepted: list[tuple[dict[str, list[str]], bytes]] = []
        self._ids = itertools.count(1)

    def __call__(self, seen: Seen) -> Answer:
        expected = "Basic " + base64.b64encode(f"api:{self.key}".encode()).decode()
        if seen.headers.get("authorization") != expected:
            return Answer(
                401, self.shapes["unauthorized_text"].encode(), {"Content-Type": "text/plain"}
            )
        fields, files = seen.form()
        if "message" not in files or not fields.get("to"):
            return Answer(400, {"message": "to and message are required"})
        if any(_local(to).startswith("invalid") for to in fields["to"]):
            return Answer(400, self.shapes["invalid_to"])
        self.accepted.append((fields, files["message"][2]))
        answer = dict(self.shapes["queued"])
        answer["id"] = f"<{next(self._ids):04d}.test@{self.domain}>"
        return Answer(200, answer)

    def not_found(self, seen: Seen) -> Answer:
        """What Mailgun answers for a domain it does not know."""
        domain = seen.path.split("/")[2]
        return Answer(404, _fill(self.shapes["domain_not_found"], domain=domain))


class SESFake:
    """SES v2 ``SendEmail`` (REST-JSON): SigV4 credential, raw content, one answer per call.

    ``account_error`` (an error code from the shapes) answers every call with that error.
    """

    path = "/v2/email/outbound-emails"

    def __init__(self, access_key_id: str = "AKIDTEST") -> None:
        self.access_key_id = access_key_id
        self.shapes = shapes("ses")
        self.accepted: list[dict[str, Any]] = []
        self.account_error: str | None = None
        self._ids = itertools.count(1)

    def __call__(self, seen: Seen) -> Answer:
        credential = f"AWS4-HMAC-SHA256 Credential={self.access_key_id}/"
        if not seen.headers.get("authorization", "").startswith(credential):
            return self.error("UnrecognizedClientException")
        if self.account_error:
            return self.error(self.account_error)
        body = seen.json()
        to = body["Destination"]["ToAddresses"]
        if len(to) > 50:
            return self.error("MessageRejected")
        if any(_local(a).startswith("rejected") for a in to):
            return self.error("MessageRejected", to=", ".join(to))
        body["Content"]["Raw"]["Data"] = base64.b64decode(body["Content"]["Raw"]["Data"])
        self.accepted.append(body)
        return Answer(200, {"MessageId": f"ses-{next(self._ids):04d}"})

    def error(self, code: str, **values: str) -> Answer:
        """SES's error answer: status, ``x-amzn-ErrorType`` header, ``{"message": ...}``."""
        status, message = self.shapes["errors"][code]
        return Answer(
            status,
            {"message": _fill(message, **values)},
            {
                "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.coral.service/"
            },
        )
