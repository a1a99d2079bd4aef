"""AWS errors become domain errors here, and only here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chalicelib.domain.shared.errors import Conflict, CrmError, TemporarilyUnavailable

_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestThrottled",
    }
)


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def to_domain_error(err: ClientError, *, on_condition: Sequence[CrmError | None] = ()) -> Exception:
    """The domain error for an AWS error; ``on_condition`` names, per operation
    of a transaction (or for the single write), what a failed condition means."""
    code = error_code(err)
    if code in _RETRYABLE_CODES:
        return TemporarilyUnavailable("The database is busy; please retry.")
    if code == "ConditionalCheckFailedException":
        return on_condition[0] if on_condition and on_condition[0] else Conflict("The record changed meanwhile.")
    if code == "TransactionConflictException":
        return Conflict("A concurrent change touched the same records; please retry.")
    if code == "TransactionCanceledException":
        reasons = err.response.get("CancellationReasons") or []
        for index, reason in enumerate(reasons):
            if reason.get("Code") == "ConditionalCheckFailed":
                mapped = on_condition[index] if index < len(on_condition) else None
                return mapped or Conflict("The record changed meanwhile.")
        if any(reason.get("Code") in ("ThrottlingError", "ProvisionedThroughputExceeded") for reason in reasons):
            return TemporarilyUnavailable("The database is busy; please retry.")
        return Conflict("A concurrent change touched the same records; please retry.")
    return err


@contextlib.contextmanager
def aws_errors(*, on_condition: Sequence[CrmError | None] = ()) -> Iterator[None]:
    try:
        yield
    except ClientError as err:
        mapped = to_domain_error(err, on_condition=on_condition)
        if mapped is err:
            raise
        raise mapped from err
    except (BotoConnectionError, ReadTimeoutError) as err:
        raise TemporarilyUnavailable("A storage service did not answer in time; please retry.") from err
