"""Provider webhooks for bounces, complaints and unsubscribes (STANDARDS PV-2..PV-6, SE-7).

One module per provider verifies its requests (signature or shared secret) and
normalises them into :class:`~syndicate.webhooks.events.Event` values;
:mod:`~syndicate.webhooks.apply` records each event once and suppresses the address
where the event calls for it; :mod:`~syndicate.webhooks.receive` runs the three steps
for one request. No web framework here: ``syndicate.web.webhooks`` is the thin route.

============  ===================================================================
provider      verified by
============  ===================================================================
postmark      HTTP basic auth and/or a shared-secret header (Postmark signs nothing)
sendgrid      ECDSA P-256 signature over timestamp + body, fresh timestamp
mailgun       HMAC-SHA256 of timestamp + token, fresh timestamp, token used once
ses           SNS message signature (v1/v2), certificate from an allowed host,
              allow-listed topic
============  ===================================================================
"""
