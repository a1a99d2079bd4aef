"""Issue 12: the packaged AWS template holds what nothing may lose.

Every assertion reads build/aws/prod/sam.json, the template `make package`
writes (built here if it is missing or older than the code), and compares it
with the code it was generated from: table_spec for the table and queues,
infra/aws/stack.py for functions, roles, secrets and bucket prefixes.
"""

from __future__ import annotations

import fcntl
import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.storage.dynamo import table_spec
from infra.aws import checks, stack
from infra.aws import template as tpl
from infra.aws.package import BUILD, REPO, RUNTIME, check_functions, package

STAGE = "prod"
OUT = BUILD / "aws" / STAGE
INPUTS = [
    REPO / "app.py",
    REPO / "requirements.txt",
    REPO / ".chalice" / "config.json",
    *REPO.glob("infra/aws/*.py"),
    *REPO.glob("chalicelib/**/*.py"),
]


def _fresh() -> bool:
    built = OUT / "sam.json"
    return built.is_file() and built.stat().st_mtime >= max(p.stat().st_mtime for p in INPUTS)


@pytest.fixture(scope="session")
def sam() -> dict[str, Any]:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # xdist runs two sessions at once: one packages, the other waits for it.
    with open(OUT.parent / ".package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _fresh():
            package(STAGE, OUT)
    return json.loads((OUT / "sam.json").read_text())


@pytest.fixture(scope="session")
def resources(sam: dict[str, Any]) -> dict[str, Any]:
    return sam["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def references(value: Any) -> set[str]:
    """Logical ids an intrinsic refers to (Ref, GetAtt, ${X} and ${X.Attr} in Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(inner, list):
                    found |= references(inner[1])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def functions(resources: dict[str, Any]) -> dict[str, Any]:
    return of_type(resources, "AWS::Serverless::Function")


def sqs_events(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, fn in functions(resources).items():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                yield name, event["Properties"]


def queue_names() -> list[str]:
    return list(tpl.queues())


# ---- packaging ----


def test_chalice_functions_are_exactly_the_declared_ones_on_python_3_12(resources):
    declared = {tpl.function_id(name) for name in stack.FUNCTIONS}
    assert set(functions(resources)) == declared
    for name, fn in functions(resources).items():
        if fn["Properties"].get("PackageType") != "Image":
            assert fn["Properties"]["Runtime"] == RUNTIME, name


def test_the_zip_carries_lambda_platform_wheels_not_the_build_machines(sam):
    with zipfile.ZipFile(OUT / "deployment.zip") as zipped:
        names = zipped.namelist()
    native = [n for n in names if n.endswith(".so")]
    assert any(n.startswith("pydantic_core/") and "cpython-312-x86_64-linux-gnu" in n for n in native)
    assert not [n for n in native if "cpython-3" in n and "cpython-312" not in n]
    assert "app.py" in names and "chalicelib/config.py" in names


def test_packaging_refuses_a_function_stack_py_does_not_size(sam):
    broken = json.loads(json.dumps(sam))
    broken["Resources"]["Stray"] = {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "x.y"}}
    with pytest.raises(SystemExit, match="Stray"):
        check_functions(broken)


def test_a_queue_without_a_consumer_stops_the_generation(monkeypatch):
    monkeypatch.setattr(stack, "EXTRA_QUEUES", {**stack.EXTRA_QUEUES, "orphan": {"max_receive_count": 3}})
    with pytest.raises(ValueError, match="orphan"):
        tpl.merge_template(STAGE)


# ---- background work ----


def test_every_sqs_event_source_reports_batch_item_failures(resources):
    events = list(sqs_events(resources))
    consumers = {name for name, _ in events}
    assert consumers == {tpl.function_id(tpl.consumer_of(q)) for q in queue_names()}
    for name, properties in events:
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        # The queue of this template, by attribute (so the mapping waits for it), and nothing else.
        assert set(properties) >= {"Queue"} and references(properties["Queue"]) <= set(
            of_type(resources, "AWS::SQS::Queue")
        )
        assert len(properties["Queue"]) == 1, properties["Queue"]


@pytest.mark.parametrize("logical", queue_names())
def test_every_queue_has_a_dead_letter_queue_and_a_long_enough_visibility(resources, logical):
    queue = resources[tpl.queue_id(logical)]["Properties"]
    dlq_id = tpl.dead_letter_id(logical)
    assert resources[dlq_id]["Type"] == "AWS::SQS::Queue"
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == tpl.queues()[logical]["max_receive_count"]
    consumer = functions(resources)[tpl.function_id(tpl.consumer_of(logical))]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * consumer["Timeout"]
    assert resources[dlq_id]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    for props in (queue, resources[dlq_id]["Properties"]):
        assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId")


def test_the_queue_names_match_what_the_code_sends_to(resources):
    """The code sends to CRM_QUEUE_PREFIX + logical name; the template names its queues so."""
    for fn in functions(resources).values():
        assert fn["Properties"]["Environment"]["Variables"]["CRM_QUEUE_PREFIX"] == {"Fn::Sub": "${AWS::StackName}-"}
    for logical in queue_names():
        assert resources[tpl.queue_id(logical)]["Properties"]["QueueName"] == {
            "Fn::Sub": "${AWS::StackName}-" + logical
        }


def test_schedules_run_every_minute_and_every_hour(resources):
    schedules = {
        name: event["Properties"]["Schedule"]
        for name, fn in functions(resources).items()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "Schedule"
    }
    # Reports (issue 17): due scheduled reports and expiries, every 15 minutes.
    assert schedules == {
        "Reminders": "rate(1 minute)",
        "Housekeeping": "rate(1 hour)",
        "Reports": "rate(15 minutes)",
    }


def test_each_function_has_its_own_size_and_the_declared_concurrency_caps(resources):
    for name, spec in stack.FUNCTIONS.items():
        props = functions(resources)[tpl.function_id(name)]["Properties"]
        assert (props["Timeout"], props["MemorySize"]) == (spec.timeout, spec.memory), name
        if spec.reserved_concurrency is not None:
            assert props["ReservedConcurrentExecutions"]["Fn::If"][1] == spec.reserved_concurrency
        if spec.consumes is not None and spec.max_concurrency is not None:
            event = props["Events"][tpl.sqs_event_id(name)]["Properties"]
            assert event["ScalingConfig"] == {"MaximumConcurrency": spec.max_concurrency}
    assert functions(resources)["APIHandler"]["Properties"]["Timeout"] <= 29  # API Gateway's own limit


# ---- data ----


def test_the_table_is_table_spec_with_pitr_protection_ttl_and_a_stream(resources):
    table = resources["Table"]
    props = table["Properties"]
    spec = table_spec.table_definition("ignored")
    for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"):
        assert props[key] == spec[key], key
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": table_spec.TTL_ATTRIBUTE}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_the_bucket_is_private_encrypted_versioned_and_expires_temporary_objects(resources):
    bucket = resources["Bucket"]
    props = bucket["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    expiring = {
        rule["Prefix"]: rule["ExpirationInDays"]
        for rule in props["LifecycleConfiguration"]["Rules"]
        if "ExpirationInDays" in rule
    }
    assert expiring == {p.prefix: p.expire_days for p in stack.BUCKET_PREFIXES.values() if p.expire_days}
    assert {"uploads/", "exports/"} <= set(expiring)
    assert not any(p.startswith("t/") for p in expiring), "records' objects must never expire"
    cors = props["CorsConfiguration"]["CorsRules"]
    assert any("PUT" in rule["AllowedMethods"] for rule in cors)
    assert bucket["DeletionPolicy"] == "Retain"
    policy = of_type(resources, "AWS::S3::BucketPolicy")
    denies = [
        s for p in policy.values() for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_secrets_live_in_secrets_manager_and_only_their_arns_in_the_environment(resources):
    secrets = of_type(resources, "AWS::SecretsManager::Secret")
    assert set(secrets) == {tpl.secret_id(name) for name in stack.SECRETS}
    for name, spec in stack.SECRETS.items():
        props = secrets[tpl.secret_id(name)]["Properties"]
        assert "SecretString" not in props  # a value in the template would be readable by anyone who reads it
        assert bool(props.get("GenerateSecretString")) == spec.generate
    for fn_name, fn in functions(resources).items():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert "CRM_CURSOR_SECRET" not in variables
        assert variables["CRM_CURSOR_SECRET_ARN"] == {"Ref": "CursorSecret"}, fn_name
        assert variables["CRM_STAGE"] == STAGE  # a deployed stage: it refuses to start without the secret
        for key, value in variables.items():
            assert isinstance(value, dict) or not re.search(r"secret|password|token", key, re.I), key


def test_mail_goes_out_from_the_ses_identity_parameter(sam):
    assert {"MailFrom", "SesIdentity"} <= set(sam["Parameters"])
    assert "Default" not in sam["Parameters"]["SesIdentity"]


# ---- least privilege ----


def _policy_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"].get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_one_role_per_kind_of_function_and_every_function_uses_its_own(resources):
    roles = of_type(resources, "AWS::IAM::Role")
    assert set(roles) == {tpl.role_id(kind) for kind in stack.ROLES}
    for name, spec in stack.FUNCTIONS.items():
        assert functions(resources)[tpl.function_id(name)]["Properties"]["Role"] == {
            "Fn::GetAtt": [tpl.role_id(spec.role), "Arn"]
        }
    for role in roles.values():
        assert not role["Properties"].get("ManagedPolicyArns"), "managed policies are broader than we need"


def test_no_wildcard_action_and_data_actions_only_on_this_stacks_resources(resources):
    data_resources = (
        set(of_type(resources, "AWS::DynamoDB::Table"))
        | set(of_type(resources, "AWS::S3::Bucket"))
        | set(of_type(resources, "AWS::SQS::Queue"))
        | set(of_type(resources, "AWS::SecretsManager::Secret"))
    )
    log_groups = set(of_type(resources, "AWS::Logs::LogGroup"))
    pseudo = {"AWS::Partition", "AWS::Region", "AWS::AccountId"}
    for role_name, role in of_type(resources, "AWS::IAM::Role").items():
        for statement in _policy_statements(role):
            assert statement["Effect"] == "Allow"
            for action in _as_list(statement["Action"]):
                assert "*" not in action, (role_name, action)
            for resource in _as_list(statement["Resource"]):
                # Nothing here needs `*` (no X-Ray, no custom metrics): every resource is one of ours.
                assert resource != "*" and isinstance(resource, dict), (role_name, resource)
                refs = references(resource) - pseudo
                services = {a.split(":")[0] for a in _as_list(statement["Action"])}
                if services <= {"logs"}:
                    assert refs and refs <= log_groups, (role_name, statement)
                elif services <= {"ses"}:
                    # The identity, and the configuration set mass mails are sent in (ADM-2).
                    assert refs in ({"SesIdentity"}, {"MailConfigurationSet"}), (role_name, refs)
                    assert statement["Condition"]["StringEquals"]["ses:FromAddress"]
                elif services <= {"secretsmanager"} and refs == {"AWS::StackName"}:
                    # Secrets made at run time (a tenant's Twilio credentials): this stack's name prefix only.
                    assert resource in [tpl.secret_prefix_arn(p) for p in stack.SECRET_PREFIXES], resource
                else:
                    assert refs and refs <= data_resources, (role_name, statement)


def _actions(resources: dict[str, Any], kind: str) -> dict[str, set[str]]:
    """action -> logical ids of the resources the role may use it on"""
    granted: dict[str, set[str]] = {}
    for statement in _policy_statements(resources[tpl.role_id(kind)]):
        for action in _as_list(statement["Action"]):
            granted.setdefault(action, set()).update(references(statement["Resource"]))
    return granted


def test_table_actions_reach_the_table_and_its_indexes_only_and_no_request_scans(resources):
    index_names = [gsi["IndexName"] for gsi in table_spec.table_definition("x")["GlobalSecondaryIndexes"]]
    for kind in stack.ROLES:
        for statement in _policy_statements(resources[tpl.role_id(kind)]):
            if any(a.startswith("dynamodb:") for a in _as_list(statement["Action"])):
                for resource in _as_list(statement["Resource"]):
                    if resource == {"Fn::GetAtt": ["Table", "Arn"]}:
                        continue
                    if resource == {"Fn::GetAtt": ["Table", "StreamArn"]}:
                        assert kind == "stream" and all(a in STREAM_READ for a in statement["Action"]), statement
                        continue
                    index = resource["Fn::Sub"].removeprefix("${Table.Arn}/index/")
                    assert index in index_names and statement["Action"] == ["dynamodb:Query"], resource
    assert "dynamodb:Scan" not in _actions(resources, "api")
    schedule_indexes = {
        s["Fn::Sub"]
        for st in _policy_statements(resources[tpl.role_id("schedule")])
        if st["Sid"] == "TableIndexes"
        for s in st["Resource"]
    }
    assert schedule_indexes == {"${Table.Arn}/index/" + table_spec.SCHEDULE_INDEX}


def test_objects_only_under_the_declared_prefixes(resources):
    for kind, role in stack.ROLES.items():
        for statement in _policy_statements(resources[tpl.role_id(kind)]):
            bucket_actions = ("s3:ListBucket", "s3:ListBucketVersions")
            object_actions = [
                a for a in _as_list(statement["Action"]) if a.startswith("s3:") and a not in bucket_actions
            ]
            if object_actions:
                prefixes = {r["Fn::Sub"] for r in statement["Resource"]}
                allowed = {"${Bucket.Arn}/" + stack.BUCKET_PREFIXES[p].prefix + "*" for p in role.objects}
                assert prefixes <= allowed and "${Bucket.Arn}/*" not in prefixes, (kind, prefixes)


def test_queues_and_secrets_only_for_the_roles_that_use_them(resources):
    for kind, role in stack.ROLES.items():
        granted = _actions(resources, kind)
        assert granted.get("sqs:SendMessage", set()) == {tpl.queue_id(q) for q in role.sends_to}, kind
        consumed = {tpl.queue_id(fn.consumes) for fn in stack.FUNCTIONS.values() if fn.role == kind and fn.consumes}
        assert granted.get("sqs:ReceiveMessage", set()) == consumed, kind
        # Secrets made at run time under this stack's name prefix (a tenant's Twilio credentials).
        prefixed = set().union(
            *(
                references(tpl.secret_prefix_arn(name))
                for name, actions in role.secret_prefixes.items()
                if "secretsmanager:GetSecretValue" in actions
            )
        )
        secrets = {tpl.secret_id(s) for s in role.secrets} | prefixed
        assert granted.get("secretsmanager:GetSecretValue", set()) == secrets, kind
        assert ("ses:SendEmail" in granted) == role.send_email, kind
    # Only the API signs cursors, and the worker mailings' unsubscribe links (the same codec, its own
    # scope: domain/mailing/unsubscribe.py); only the worker sends mail.
    assert [
        k
        for k in stack.ROLES
        if tpl.secret_id("cursor") in _actions(resources, k).get("secretsmanager:GetSecretValue", set())
    ] == ["api", "worker"]
    assert [k for k in stack.ROLES if "ses:SendEmail" in _actions(resources, k)] == ["worker"]


# ---- operations ----


def _alarms(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]


def test_alarms_on_every_dead_letter_queue_function_and_the_api_5xx_rate(resources):
    alarms = _alarms(resources)
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    watched = {(a["MetricName"], json.dumps(a["Dimensions"][0]["Value"])) for a in alarms}
    for logical in queue_names():
        dlq = {"Fn::GetAtt": [tpl.dead_letter_id(logical), "QueueName"]}
        assert ("ApproximateNumberOfMessagesVisible", json.dumps(dlq)) in watched, logical
    for fn in functions(resources):
        for metric in ("Errors", "Throttles"):
            assert (metric, json.dumps({"Ref": fn})) in watched, (fn, metric)
    api = [a for a in alarms if a["Namespace"] == "AWS/ApiGateway"]
    assert [a["MetricName"] for a in api] == ["5XXError"] and api[0]["Statistic"] == "Average"
    # The alarm watches this stack's API: the name it gives the REST API and Chalice's stage.
    dims = {d["Name"]: d["Value"] for d in api[0]["Dimensions"]}
    assert dims["ApiName"] == resources["RestAPI"]["Properties"]["Name"]
    assert dims["Stage"] == resources["RestAPI"]["Properties"]["StageName"]


def test_every_function_logs_to_a_group_with_retention(resources):
    for name, fn in functions(resources).items():
        group = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[group]["Properties"]["RetentionInDays"] == stack.LOG_RETENTION_DAYS, name


def test_unknown_deep_paths_answer_a_404_problem_at_the_gateway(resources):
    responses = resources["RestAPI"]["Properties"]["GatewayResponses"]
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == 404
    assert missing["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'"
    assert json.loads(missing["ResponseTemplates"]["application/json"])["status"] == 404


# ---- the documents function ----


def test_the_documents_function_is_a_container_image_on_its_own_queue(resources, sam):
    spec = stack.FUNCTIONS["documents"]
    assert spec.image is not None and spec.consumes == "documents"
    fn = resources["Documents"]
    props = fn["Properties"]
    assert props["PackageType"] == "Image"
    assert props["ImageUri"] == {"Ref": "DocumentsImageUri"}
    # Agreed with the invoices issue: a plain Lambda handler at this path.
    assert props["ImageConfig"]["Command"] == ["chalicelib.handlers.background.documents.handle_batch"]
    assert fn["Condition"] == "HasDocumentsImage"  # deployable before the image exists
    dockerfile = (REPO / spec.image.dockerfile).read_text()
    assert dockerfile.splitlines()[0].startswith("FROM public.ecr.aws/lambda/python:3.12")
    cmd = re.search(r'^CMD \["([^"]+)"\]', dockerfile, re.M)
    assert cmd and cmd.group(1) == spec.image.handler


# ---- the checks' own honesty ----


def test_checkov_exceptions_each_have_a_reason_and_unlisted_failures_fail():
    exceptions = checks.load_exceptions()
    assert all(len(entry["reason"]) > 40 for entry in exceptions.values())
    failure = {"check_id": "CKV_AWS_999", "check_name": "new", "resource": "AWS::S3::Bucket.Bucket"}
    problems = checks.compare([failure], exceptions)
    assert any("CKV_AWS_999" in p for p in problems)
    # An exception for another resource type does not cover this one.
    wrong_type = {"check_id": "CKV_AWS_18", "check_name": "logs", "resource": "AWS::SQS::Queue.JobsQueue"}
    assert any("CKV_AWS_18" in p and "JobsQueue" in p for p in checks.compare([wrong_type], exceptions))
    # Exceptions nothing fails any more are reported, so the list cannot grow stale.
    assert any("no longer fails" in p for p in checks.compare([], exceptions))


# ---- webhooks (issue 18): the table's stream feeds one function ----

STREAM_READ = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}


def test_the_tables_stream_feeds_the_webhook_function_with_partial_failures(resources):
    assert resources["Table"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    function = resources[tpl.function_id("webhook_events")]
    events = function["Properties"]["Events"]
    assert list(events) == [tpl.stream_event_id("webhook_events")]
    mapping = events[tpl.stream_event_id("webhook_events")]
    assert mapping["Type"] == "DynamoDB"
    properties = mapping["Properties"]
    assert properties["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert properties["StartingPosition"] == "TRIM_HORIZON", "a new deployment misses no committed write"
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert function["Properties"]["Role"] == {"Fn::GetAtt": [tpl.role_id("stream"), "Arn"]}
    stream_statements = [s for s in _policy_statements(resources[tpl.role_id("stream")]) if s["Sid"] == "ReadStream"]
    assert len(stream_statements) == 1 and set(stream_statements[0]["Action"]) == STREAM_READ
    # Only the stream role reads the stream; it signs nothing, so it reads no secret.
    for kind in stack.ROLES:
        sids = {s["Sid"] for s in _policy_statements(resources[tpl.role_id(kind)])}
        assert ("ReadStream" in sids) == (kind == "stream"), kind
    assert "ReadSecrets" not in {s["Sid"] for s in _policy_statements(resources[tpl.role_id("stream")])}


# ---- mass mailing's bounces (ADM-2) ----


def test_ses_bounce_and_complaint_events_reach_the_bounces_queue_through_sns(resources):
    events = stack.MAIL_EVENTS
    destination = resources["MailEventDestination"]["Properties"]
    assert destination["ConfigurationSetName"] == {"Ref": "MailConfigurationSet"}
    assert set(destination["EventDestination"]["MatchingEventTypes"]) == {"bounce", "complaint"}
    assert destination["EventDestination"]["SnsDestination"]["TopicARN"] == {"Ref": "MailEventTopic"}
    subscription = resources["MailEventSubscription"]["Properties"]
    assert subscription["Protocol"] == "sqs" and subscription["RawMessageDelivery"] is True
    assert subscription["Endpoint"] == {"Fn::GetAtt": [tpl.queue_id(events.queue), "Arn"]}
    (statement,) = resources["MailEventQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "MailEventTopic"}}}
    # The queue's consumer is the bounces function; mass mails are sent in the configuration set.
    assert tpl.consumer_of(events.queue) == "bounces"
    for fn in functions(resources).values():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert variables["CRM_MAIL_CONFIGURATION_SET"] == {"Ref": "MailConfigurationSet"}
