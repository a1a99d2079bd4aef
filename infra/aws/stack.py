"""What the AWS deployment is made of, declared once.

`infra.aws.template` turns these lists (with the table and queues of
`chalicelib/storage/dynamo/table_spec.py`) into the merge template for `chalice
package`; `tests/infra/test_deployment.py` reads the same lists to check the
generated template. A later issue adds its queue, function, secret or bucket
prefix here, in one line each (infra/aws/README.md says how).

Every number below is a decision with its reason next to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---- the table: which actions each role may use (on the table and its indexes only) ----

TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
# TransactWriteItems has no IAM action of its own: each item is checked as
# the Put/Update/Delete/ConditionCheck it contains.
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
# Scan is for offline jobs only (export, backup): no request path gets it.


# ---- the bucket: top-level prefixes ----


@dataclass(frozen=True)
class BucketPrefix:
    prefix: str
    # Temporary objects expire by a lifecycle rule; None: kept until deleted.
    # S3 lifecycle rules match literal prefixes, so temporary objects live
    # under their own top-level prefix, with the tenant after it
    # (`uploads/t/<tenant>/...`), not under `t/<tenant>/`.
    expire_days: int | None = None


BUCKET_PREFIXES: dict[str, BucketPrefix] = {
    # Records' objects: photos, attachments, invoices (`t/<tenant>/...`, storage/blobs.py).
    "tenant": BucketPrefix("t/"),
    # Browser uploads waiting to be processed (CSV imports); a day is plenty.
    "uploads": BucketPrefix("uploads/", expire_days=1),
    # Generated exports and report workbooks, downloaded by presigned URL.
    "exports": BucketPrefix("exports/", expire_days=7),
    # Within the tenant prefix: the rendered invoice PDFs (`t/<tenant>/invoices/<id>/<digest>.pdf`)
    # and the company logo they print (`t/<tenant>/settings/invoice-logo`). Named so the documents
    # function gets these objects only, not every record's photos and attachments. Kept: an issued
    # invoice's PDF is what was sent.
    "invoices": BucketPrefix("t/*/invoices/"),
    "invoice-logos": BucketPrefix("t/*/settings/"),
}
# Old versions of kept objects (the bucket is versioned so a delete or an
# overwrite can be undone) are kept this long.
NONCURRENT_VERSION_DAYS = 30


# ---- secrets: created by the template, read by the roles that list them ----


@dataclass(frozen=True)
class Secret:
    description: str
    # The environment variable that carries the secret's ARN (never its value).
    env: str
    # True: CloudFormation generates a random value that nobody ever sees.
    # False: the operator puts the value after the first deploy (README).
    generate: bool = True


SECRETS: dict[str, Secret] = {
    "cursor": Secret("HMAC key that signs page cursors", env="CRM_CURSOR_SECRET_ARN"),
    # Webhooks (issue 18): the key that seals each subscription's signing secret in the table.
    "webhooks": Secret("Key that seals webhook signing secrets", env="CRM_WEBHOOK_SECRET_ARN"),
}


@dataclass(frozen=True)
class SecretPrefix:
    """Secrets the code creates at run time, one per tenant (a tenant's Twilio
    credentials, VOIP-1): named `<stack>/<path><tenant id>`. Roles get
    actions on that name prefix only; the environment variable carries the
    prefix (never a value)."""

    path: str
    env: str
    description: str


SECRET_PREFIXES: dict[str, SecretPrefix] = {
    "twilio": SecretPrefix("twilio/", env="CRM_TWILIO_SECRET_PREFIX", description="Twilio credentials per tenant"),
}
# Storing credentials creates or replaces the tenant's secret; using them reads it.
SECRET_STORE = ("secretsmanager:CreateSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue")
SECRET_READ = ("secretsmanager:GetSecretValue",)


# ---- roles: one per kind of function, each with only what that kind uses ----


@dataclass(frozen=True)
class Role:
    table: tuple[str, ...] = ()
    # Indexes the role may Query; None: every index of table_spec.
    indexes: tuple[str, ...] | None = None
    # bucket prefix names -> object actions on `<bucket>/<prefix>*`
    objects: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # s3:ListBucket on the bucket itself (HeadBucket for /health, delete by prefix).
    list_bucket: bool = False
    sends_to: tuple[str, ...] = ()  # logical queue names
    secrets: tuple[str, ...] = ()  # names in SECRETS
    # names in SECRET_PREFIXES -> actions on `<stack>/<path>*`
    secret_prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    send_email: bool = False  # ses:SendEmail from the SES identity parameter
    # Read the table's stream (what Lambda's stream poller does with the role).
    reads_stream: bool = False
    # s3:ListBucketVersions: GDPR erasure deletes every version of a person's objects.
    list_versions: bool = False


OBJECT_RW = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
# Multipart uploads (exports, import error reports) beyond PutObject.
MULTIPART = ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")

ROLES: dict[str, Role] = {
    # Requests: read and write records, presign uploads and downloads of
    # records' objects, queue background work, sign cursors. No Scan, no mail.
    "api": Role(
        table=TABLE_READ + TABLE_WRITE,
        # uploads: presign an import's PUT and read its first bytes (preview); exports: presign downloads
        # (export and GDPR ZIPs).
        objects={"tenant": OBJECT_RW, "uploads": ("s3:GetObject", "s3:PutObject"), "exports": ("s3:GetObject",)},
        list_bucket=True,
        # imports: an import's first chunk; documents: invoice PDFs to render and invoice mails to
        # prepare; calls: Twilio callbacks.
        sends_to=("jobs", "imports", "documents", "calls"),
        # webhooks: seals a new subscription's signing secret.
        secrets=("cursor", "webhooks"),
        # Admins store Twilio credentials; webhooks check signatures with them.
        secret_prefixes={"twilio": SECRET_STORE},
    ),
    # The jobs consumer: cascades, bulk changes, e-mails, purges, mailings. It
    # reads the cursor key to sign mailings' unsubscribe links (the cursor
    # codec under a scope of its own, domain/mailing/unsubscribe.py).
    "worker": Role(
        table=TABLE_READ + TABLE_WRITE,
        # exports: export ZIPs as multipart uploads, and their tail between invocations; GDPR (issue 18):
        # export ZIPs under exports/; erasure removes every version of a person's objects.
        objects={
            "tenant": OBJECT_RW + ("s3:DeleteObjectVersion",),
            "exports": OBJECT_RW + MULTIPART + ("s3:DeleteObjectVersion",),
        },
        list_bucket=True,
        list_versions=True,
        sends_to=("jobs",),
        send_email=True,
        # webhooks: deliveries are signed here (issue 18).
        secrets=("cursor", "webhooks"),
    ),
    # CSV import chunks (IMP-2): read the upload in ranges, write error parts and the
    # joined report, write records; queue its next chunk and notifications (jobs). No mail, no Scan.
    "importer": Role(
        table=TABLE_READ + TABLE_WRITE,
        objects={"uploads": OBJECT_RW, "exports": OBJECT_RW + MULTIPART},
        list_bucket=True,
        sends_to=("imports", "jobs"),
    ),
    # Twilio's callbacks (VOIP-7): merge calls, create a caller's contact and its
    # history event, copy recordings under the tenant, ask Twilio for prices.
    "calls": Role(
        table=TABLE_READ + TABLE_WRITE,
        objects={"tenant": ("s3:GetObject", "s3:PutObject")},
        # HeadObject of a recording not copied yet answers 404 only with ListBucket (403 without).
        list_bucket=True,
        sends_to=("jobs", "calls"),
        secret_prefixes={"twilio": SECRET_READ},
    ),
    # SES bounce and complaint events (ADM-2): read and put suppression items, nothing else.
    "bounces": Role(table=("dynamodb:GetItem", "dynamodb:PutItem")),
    # Schedules find due work on the schedule index, record how far they swept and queue jobs.
    "schedule": Role(
        table=TABLE_READ + ("dynamodb:PutItem", "dynamodb:UpdateItem"), indexes=("schedule",), sends_to=("jobs",)
    ),
    # The table's stream -> webhook deliveries (issue 18): reads subscriptions,
    # writes deliveries, queues their attempts. Signs nothing (no secret).
    "stream": Role(table=TABLE_READ + ("dynamodb:PutItem",), indexes=(), sends_to=("jobs",), reads_stream=True),
    # The PDF renderer (container image): reads invoices and the profile, writes the PDF
    # (replacing the previous rendering) and its state, reads the logo, and hands an
    # invoice's mail to the jobs worker (the one role that sends e-mail).
    "documents": Role(
        table=TABLE_READ + ("dynamodb:PutItem", "dynamodb:UpdateItem"),
        objects={"invoices": ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), "invoice-logos": ("s3:GetObject",)},
        sends_to=("jobs",),
    ),
}


# ---- functions ----


@dataclass(frozen=True)
class Image:
    """A container-image function: built from infra/aws/<name>/Dockerfile,
    pushed to ECR by the operator, named by a template parameter."""

    handler: str
    dockerfile: str


@dataclass(frozen=True)
class Function:
    role: str
    timeout: int  # seconds
    memory: int  # MB; CPU grows with it
    consumes: str | None = None  # logical queue of its SQS event source
    batch_size: int = 10
    # SQS consumers: the event source mapping's MaximumConcurrency. It caps
    # how hard a burst of messages hits the table without the throttling (and
    # the early dead-lettering) that reserved concurrency would cause there.
    max_concurrency: int | None = None
    # Reserved concurrency: also a cap; used where overlapping runs only add
    # load. Applied only when the ReserveConcurrency parameter is true (a new
    # account's concurrency quota of 10 leaves nothing to reserve).
    reserved_concurrency: int | None = None
    image: Image | None = None  # None: the Chalice zip
    # Fed by the table's stream (an event source mapping; Chalice cannot name the stream).
    stream: bool = False


# Keys are Chalice's function names (`name=` of the decorator; `api_handler`
# is the API). `chalice package` must produce exactly these functions, plus
# the image functions, or packaging stops.
FUNCTIONS: dict[str, Function] = {
    # API Gateway stops waiting at 29 s; 1 GB gives a full vCPU share for a fast cold start.
    "api_handler": Function(role="api", timeout=29, memory=1024),
    "jobs": Function(role="worker", timeout=120, memory=512, consumes="jobs", max_concurrency=10),
    # One chunk per invocation; a chunk stops between rows 10 s before its time is up and
    # queues the next, so 5 minutes is plenty and nothing relies on Lambda's 15. Chunks of
    # one import run one after another; 4 imports at a time keep the table's write rate sane.
    "imports": Function(role="importer", timeout=300, memory=1024, consumes="imports", batch_size=1, max_concurrency=4),
    # A callback is a few table writes and at most one recording download (a
    # minute covers an hour-long recording); concurrency well above the calls
    # a small team takes at once.
    "calls": Function(role="calls", timeout=60, memory=512, consumes="calls", max_concurrency=5),
    # SES bounce/complaint events: a put per address; a burst after a big mailing needs no more than two at once.
    "bounces": Function(role="bounces", timeout=30, memory=256, consumes="bounces", max_concurrency=2),
    # Every minute: must finish well inside the minute; one run at a time.
    "reminders": Function(role="schedule", timeout=50, memory=256, reserved_concurrency=1),
    "housekeeping": Function(role="schedule", timeout=300, memory=256, reserved_concurrency=1),
    # Webhooks (issue 18): a batch of stream records is a few reads and writes.
    "webhook_events": Function(role="stream", timeout=60, memory=256, batch_size=100, stream=True),
    # Every 15 minutes: queues due scheduled reports and expiries (the jobs function makes them).
    "reports": Function(role="schedule", timeout=60, memory=256, reserved_concurrency=1),
    # weasyprint needs pango, harfbuzz and fonts: a container image (infra/aws/README.md says why).
    "documents": Function(
        role="documents",
        timeout=120,
        memory=2048,
        consumes="documents",
        batch_size=1,
        max_concurrency=2,
        image=Image(
            handler="chalicelib.handlers.background.documents.handle_batch", dockerfile="infra/aws/documents/Dockerfile"
        ),
    ),
}

# Queues that only the deployment knows yet (their producers come with later
# issues); the others come from table_spec.QUEUES (documents: since the invoices).
EXTRA_QUEUES: dict[str, dict[str, int]] = {}
# SQS retention: main queues keep a message 4 days (the default) while a
# consumer is broken; dead-letter queues the maximum, 14 days, to inspect and redrive.
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# AWS's advice for an SQS event source: visibility timeout at least six
# times the function's timeout, so retries of a throttled batch never make
# a message visible while it is still being worked on.
VISIBILITY_TIMEOUT_FACTOR = 6

# The stream's event source mapping (webhooks): retried this often (with the
# batch bisected) before a record is given up, so one bad record cannot hold
# back the shard for the stream's whole 24 hours; waits a second to batch.
STREAM_MAX_RETRIES = 10
STREAM_BATCH_WINDOW_SECONDS = 1

# ---- operations ----

LOG_RETENTION_DAYS = 30
# API Gateway stage throttling: protects the table and the bill from a
# runaway client; far above 20,000 requests a day (0.23 per second).
API_RATE_LIMIT = 50  # requests per second, steady
API_BURST_LIMIT = 100
# Alarm when more than this share of requests answer 5xx over 5 minutes, 3 periods in a row.
API_5XX_RATE = 0.02
# A message older than this on a main queue means the consumer is stuck or overrun.
QUEUE_AGE_ALARM_SECONDS = 15 * 60


# ---- mass mailing's bounces and complaints (ADM-2) ----


@dataclass(frozen=True)
class MailEvents:
    """An SES configuration set (every mass mail is sent in it) publishing
    these event types to an SNS topic, subscribed by this SQS queue."""

    queue: str
    events: tuple[str, ...]


MAIL_EVENTS = MailEvents(queue="bounces", events=("BOUNCE", "COMPLAINT"))
