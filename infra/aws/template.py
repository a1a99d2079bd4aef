"""The merge template for `chalice package`, generated from the code.

Chalice writes the functions, their event sources and the REST API; this adds
what Chalice cannot: the table (from table_spec, never copied), the bucket,
the queues with their dead-letter queues, one least-privilege role per kind
of function, secrets, `ReportBatchItemFailures`, alarms, log retention and
the documents function. `chalice package --merge-template` deep-merges it
over its own output, so a function's entry here only names what changes.

Everything is derived from `infra/aws/stack.py` and
`chalicelib/storage/dynamo/table_spec.py`; nothing here names a queue or an index.
"""

from __future__ import annotations

from typing import Any

from chalice.utils import to_cfn_resource_name

from chalicelib.storage.dynamo import table_spec
from infra.aws import stack

Json = dict[str, Any]

STACK = "${AWS::StackName}"
API_STAGE = "api"  # .chalice/config.json api_gateway_stage
API_LOGICAL_ID = "RestAPI"  # Chalice's name for the REST API


def ref(name: str) -> Json:
    return {"Ref": name}


def arn(logical_id: str) -> Json:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def sub(text: str, **values: Any) -> Json:
    return {"Fn::Sub": [text, values]} if values else {"Fn::Sub": text}


# ---- names: one rule each, used by the template and the tests ----


def function_id(name: str) -> str:
    """The logical id Chalice gives a function (`api_handler` is the API's)."""
    return "APIHandler" if name == "api_handler" else to_cfn_resource_name(name)


def sqs_event_id(name: str) -> str:
    """Chalice names a function's SQS event `<FunctionId>SqsEventSource`."""
    return f"{function_id(name)}SqsEventSource"


def queue_id(logical: str) -> str:
    return f"{to_cfn_resource_name(logical)}Queue"


def dead_letter_id(logical: str) -> str:
    return f"{to_cfn_resource_name(logical)}DeadLetterQueue"


def role_id(kind: str) -> str:
    return f"{to_cfn_resource_name(kind)}Role"


def secret_id(name: str) -> str:
    return f"{to_cfn_resource_name(name)}Secret"


def log_group_id(name: str) -> str:
    return f"{function_id(name)}LogGroup"


def queues() -> dict[str, dict[str, Any]]:
    """Logical queue name -> its settings: table_spec's queues, then the ones
    only the deployment knows yet."""
    return {**table_spec.QUEUES, **stack.EXTRA_QUEUES}


def consumer_of(logical: str) -> str:
    consumers = [name for name, fn in stack.FUNCTIONS.items() if fn.consumes == logical]
    if len(consumers) != 1:
        raise ValueError(
            f"queue {logical!r} needs exactly one consumer in infra/aws/stack.py FUNCTIONS, found {consumers}"
        )
    return consumers[0]


def chalice_functions() -> dict[str, stack.Function]:
    return {name: fn for name, fn in stack.FUNCTIONS.items() if fn.image is None}


def image_functions() -> dict[str, stack.Function]:
    return {name: fn for name, fn in stack.FUNCTIONS.items() if fn.image is not None}


def image_condition(name: str) -> str:
    return f"Has{function_id(name)}Image"


def image_parameter(name: str) -> str:
    return f"{function_id(name)}ImageUri"


# ---- parameters and conditions ----


def parameters() -> Json:
    params: Json = {
        "MailFrom": {
            "Type": "String",
            "AllowedPattern": r"^[^@\s]+@[^@\s]+$",
            "Description": "Sender of the CRM's e-mails; must belong to SesIdentity",
        },
        "SesIdentity": {
            "Type": "String",
            "MinLength": 1,
            "Description": "The verified SES identity (domain or address) MailFrom belongs to",
        },
        "PublicUrl": {
            "Type": "String",
            "Default": "",
            "Description": "Base URL of the API put in front of links in e-mails (e.g. a custom domain)",
        },
        "BrowserOrigins": {
            "Type": "CommaDelimitedList",
            "Default": "*",
            "Description": "Origins allowed to PUT presigned uploads from a browser (CORS)",
        },
        "AlarmEmail": {
            "Type": "String",
            "Default": "",
            "Description": "Address subscribed to the alarm topic (empty: none)",
        },
        "LogLevel": {"Type": "String", "Default": "INFO", "AllowedValues": ["DEBUG", "INFO", "WARNING", "ERROR"]},
        "ReserveConcurrency": {
            "Type": "String",
            "Default": "true",
            "AllowedValues": ["true", "false"],
            "Description": "false on an account whose Lambda concurrency quota is still 10 (nothing to reserve)",
        },
        "ApiAccessLogs": {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["true", "false"],
            "Description": "true once the account has API Gateway's CloudWatch role set (README)",
        },
    }
    for name in image_functions():
        params[image_parameter(name)] = {
            "Type": "String",
            "Default": "",
            "Description": f"ECR image URI of the {name} function (empty: the function is not created yet)",
        }
    return params


def conditions() -> Json:
    result: Json = {
        "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]},
        "ReserveConcurrency": {"Fn::Equals": [ref("ReserveConcurrency"), "true"]},
        "ApiAccessLogs": {"Fn::Equals": [ref("ApiAccessLogs"), "true"]},
    }
    for name in image_functions():
        result[image_condition(name)] = {"Fn::Not": [{"Fn::Equals": [ref(image_parameter(name)), ""]}]}
    return result


# ---- data ----


def table() -> Json:
    properties = table_spec.table_definition(sub(STACK))  # type: ignore[arg-type]
    properties.update(
        {
            "TimeToLiveSpecification": table_spec.ttl_specification(),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "DeletionProtectionEnabled": True,
            # Webhooks read every committed write from the stream (issue 18).
            "StreamSpecification": {"StreamViewType": table_spec.STREAM_VIEW_TYPE},
            # Encrypted at rest with the AWS managed key (alias/aws/dynamodb): no
            # key to pay for or manage, and every use is in CloudTrail.
            "SSESpecification": {"SSEEnabled": True},
        }
    )
    # A fixed name and Retain: removing the stack keeps the data, and a new
    # stack of the same name fails loudly instead of starting on an empty table.
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def table_arns() -> tuple[Json, list[Json]]:
    indexes = [
        sub("${Table.Arn}/index/" + gsi["IndexName"])
        for gsi in table_spec.table_definition("x")["GlobalSecondaryIndexes"]
    ]
    return arn("Table"), indexes


def bucket() -> Json:
    rules: list[Json] = [
        {
            "Id": "abort-incomplete-uploads",
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        {
            "Id": "expire-old-versions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": stack.NONCURRENT_VERSION_DAYS},
            "ExpiredObjectDeleteMarker": True,
        },
    ]
    for name, prefix in stack.BUCKET_PREFIXES.items():
        if prefix.expire_days is not None:
            rules.append(
                {
                    "Id": f"expire-{name}",
                    "Status": "Enabled",
                    "Prefix": prefix.prefix,
                    "ExpirationInDays": prefix.expire_days,
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                }
            )
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": rules},
            # Browsers PUT uploads straight to S3 with a presigned URL (files,
            # imports) and GET downloads; the URL itself is the credential.
            "CorsConfiguration": {
                "CorsRules": [
                    {
                        "AllowedMethods": ["GET", "PUT", "HEAD"],
                        "AllowedOrigins": ref("BrowserOrigins"),
                        "AllowedHeaders": ["content-type", "content-md5", "x-amz-*"],
                        "ExposedHeaders": ["ETag"],
                        "MaxAge": 3600,
                    }
                ]
            },
        },
    }


def bucket_policy() -> Json:
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": ref("Bucket"),
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [arn("Bucket"), sub("${Bucket.Arn}/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    }


def queue_resources() -> Json:
    resources: Json = {}
    for logical, spec in queues().items():
        consumer = stack.FUNCTIONS[consumer_of(logical)]
        name = f"{STACK}-{logical}"
        resources[dead_letter_id(logical)] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": sub(table_spec.dead_letter_name(name)),
                "MessageRetentionPeriod": stack.DLQ_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
            },
        }
        resources[queue_id(logical)] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": sub(name),
                "VisibilityTimeout": stack.VISIBILITY_TIMEOUT_FACTOR * consumer.timeout,
                "MessageRetentionPeriod": stack.QUEUE_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": arn(dead_letter_id(logical)),
                    "maxReceiveCount": int(spec["max_receive_count"]),
                },
            },
        }
        # Only this queue may use the dead-letter queue (and redrive back into it).
        resources[dead_letter_id(logical)]["Properties"]["RedriveAllowPolicy"] = {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [sub(f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{name}")],
        }
    return resources


def secret_resources() -> Json:
    resources: Json = {}
    for name, secret in stack.SECRETS.items():
        # No fixed name: a deleted secret keeps its name through a recovery
        # window, which would block re-creating a stack of the same name.
        properties: Json = {"Description": sub(f"{secret.description} ({STACK})")}
        if secret.generate:
            properties["GenerateSecretString"] = {"PasswordLength": 64, "ExcludePunctuation": True}
        resources[secret_id(name)] = {
            "Type": "AWS::SecretsManager::Secret",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": properties,
        }
    return resources


# ---- roles ----


def _statement(sid: str, actions: list[str] | tuple[str, ...], resources: list[Any], **extra: Any) -> Json:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def role_policy(kind: str) -> list[Json]:
    role = stack.ROLES[kind]
    functions = [name for name, fn in stack.FUNCTIONS.items() if fn.role == kind]
    statements = [
        _statement(
            "Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], [arn(log_group_id(name)) for name in functions]
        )
    ]
    if role.table:
        table_arn, index_arns = table_arns()
        statements.append(_statement("Table", role.table, [table_arn]))
        wanted = role.indexes
        if "dynamodb:Query" in role.table:
            chosen = [
                a
                for a, gsi in zip(index_arns, table_spec.table_definition("x")["GlobalSecondaryIndexes"], strict=False)
                if wanted is None or gsi["IndexName"] in wanted
            ]
            if chosen:  # a role that queries the base table only (indexes=()) gets none
                statements.append(_statement("TableIndexes", ["dynamodb:Query"], chosen))
    for prefix_name, actions in role.objects.items():
        prefix = stack.BUCKET_PREFIXES[prefix_name].prefix
        statements.append(
            _statement(f"Objects{to_cfn_resource_name(prefix_name)}", actions, [sub("${Bucket.Arn}/" + prefix + "*")])
        )
    if role.list_bucket:
        bucket_actions = ["s3:ListBucket"] + (["s3:ListBucketVersions"] if role.list_versions else [])
        statements.append(_statement("Bucket", bucket_actions, [arn("Bucket")]))
    if role.sends_to:
        statements.append(
            _statement(
                "SendToQueues", ["sqs:GetQueueUrl", "sqs:SendMessage"], [arn(queue_id(q)) for q in role.sends_to]
            )
        )
    consumed = sorted({stack.FUNCTIONS[name].consumes for name in functions} - {None})  # type: ignore[type-var]
    if consumed:
        # What Lambda's poller does with the function's role, nothing more.
        statements.append(
            _statement(
                "ConsumeQueues",
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                [arn(queue_id(q)) for q in consumed],
            )
        )
    if role.reads_stream:
        statements.append(
            _statement(
                "ReadStream",
                ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
                [{"Fn::GetAtt": ["Table", "StreamArn"]}],
            )
        )
    if role.secrets:
        statements.append(
            _statement("ReadSecrets", ["secretsmanager:GetSecretValue"], [ref(secret_id(s)) for s in role.secrets])
        )
    for prefix_name, actions in role.secret_prefixes.items():
        statements.append(
            _statement(f"SecretPrefix{to_cfn_resource_name(prefix_name)}", actions, [secret_prefix_arn(prefix_name)])
        )
    if role.send_email:
        statements.append(
            _statement(
                "SendEmail",
                ["ses:SendEmail", "ses:SendRawEmail"],
                [
                    sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesIdentity}"),
                    # Mass mails go out in the configuration set that reports their bounces (ADM-2).
                    sub(
                        "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/"
                        "${MailConfigurationSet}"
                    ),
                ],
                Condition={"StringEquals": {"ses:FromAddress": ref("MailFrom")}},
            )
        )
    return statements


def secret_prefix_arn(name: str) -> Json:
    """Every secret the code creates under a prefix of this stack (and only those)."""
    path = stack.SECRET_PREFIXES[name].path
    return sub(
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:" + STACK + "/" + path + "*"
    )


def role_resources() -> Json:
    return {
        role_id(kind): {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": sub(f"CRM {kind} functions of {STACK}"),
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": f"crm-{kind}",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": role_policy(kind)},
                    }
                ],
            },
        }
        for kind in stack.ROLES
    }


# ---- functions ----


def environment() -> Json:
    """Names and ARNs only: secret values are read from Secrets Manager."""
    variables: Json = {
        "CRM_TABLE_NAME": ref("Table"),
        "CRM_BUCKET_NAME": ref("Bucket"),
        "CRM_QUEUE_PREFIX": sub(f"{STACK}-"),
        "CRM_MAIL_FROM": ref("MailFrom"),
        "CRM_MAIL_CONFIGURATION_SET": ref("MailConfigurationSet"),
        "CRM_PUBLIC_URL": ref("PublicUrl"),
        "CRM_LOG_LEVEL": ref("LogLevel"),
        "POWERTOOLS_LOG_LEVEL": ref("LogLevel"),
    }
    # Every function gets every secret's ARN (a deployed stage refuses to start
    # without one); only the roles that list a secret may read its value.
    for name, secret in stack.SECRETS.items():
        variables[secret.env] = ref(secret_id(name))
    for prefix in stack.SECRET_PREFIXES.values():
        variables[prefix.env] = sub(f"{STACK}/{prefix.path}")
    return {"Variables": variables}


def _sqs_event(fn: stack.Function) -> Json:
    assert fn.consumes is not None
    properties: Json = {
        # Replaces the Fn::Sub Chalice writes (the deep merge keeps keys it is not
        # given, so a GetAtt would sit beside it); naming the attribute also makes
        # the mapping wait for the queue.
        "Queue": sub("${" + queue_id(fn.consumes) + ".Arn}"),
        "BatchSize": fn.batch_size,
        # Without it Lambda ignores batchItemFailures and retries (or drops) the whole batch.
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if fn.max_concurrency is not None:
        properties["ScalingConfig"] = {"MaximumConcurrency": fn.max_concurrency}
    return {"Type": "SQS", "Properties": properties}


def stream_event_id(name: str) -> str:
    return f"{function_id(name)}StreamEvent"


def _stream_event(fn: stack.Function) -> Json:
    return {
        "Type": "DynamoDB",
        "Properties": {
            "Stream": {"Fn::GetAtt": ["Table", "StreamArn"]},
            # From the oldest record kept: a new deployment misses no committed write.
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": fn.batch_size,
            "MaximumBatchingWindowInSeconds": stack.STREAM_BATCH_WINDOW_SECONDS,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": stack.STREAM_MAX_RETRIES,
        },
    }


def function_properties(name: str, fn: stack.Function) -> Json:
    properties: Json = {
        "Timeout": fn.timeout,
        "MemorySize": fn.memory,
        "Role": arn(role_id(fn.role)),
        "Environment": environment(),
        "LoggingConfig": {"LogGroup": ref(log_group_id(name))},
    }
    if fn.reserved_concurrency is not None:
        properties["ReservedConcurrentExecutions"] = {
            "Fn::If": ["ReserveConcurrency", fn.reserved_concurrency, ref("AWS::NoValue")]
        }
    if fn.consumes is not None:
        properties["Events"] = {sqs_event_id(name): _sqs_event(fn)}
    if fn.stream:
        properties["Events"] = {stream_event_id(name): _stream_event(fn)}
    return properties


def function_resources(stage: str) -> Json:
    resources: Json = {}
    for name, fn in stack.FUNCTIONS.items():
        resources[log_group_id(name)] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": sub(f"/aws/lambda/{STACK}/{name}"),
                "RetentionInDays": stack.LOG_RETENTION_DAYS,
            },
        }
        properties = function_properties(name, fn)
        if fn.image is None:
            resources[function_id(name)] = {"Properties": properties}  # merged over Chalice's
            continue
        properties.update(
            {
                "PackageType": "Image",
                "ImageUri": ref(image_parameter(name)),
                "ImageConfig": {"Command": [fn.image.handler]},
                "Architectures": ["x86_64"],
                "Tags": {"crm-stage": stage},
            }
        )
        properties["Environment"]["Variables"]["CRM_STAGE"] = stage
        properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] = "crm"
        resources[function_id(name)] = {
            "Type": "AWS::Serverless::Function",
            "Condition": image_condition(name),
            "Properties": properties,
        }
    return resources


def api_properties() -> Json:
    problem = '{"type": "about:blank", "title": "%s", "status": %d, "detail": "%s"}'
    # The gateway's own answers carry the security headers the API's do (issue 19;
    # chalicelib/handlers/http/security.py): every answer, even one no function made.
    # (No CSP: a static gateway value cannot quote 'none'; X-Frame-Options covers framing.)
    secure = {
        "X-Content-Type-Options": "'nosniff'",
        "Referrer-Policy": "'no-referrer'",
        "X-Frame-Options": "'DENY'",
        "Strict-Transport-Security": "'max-age=31536000; includeSubDomains'",
    }
    problem_headers = {"Content-Type": "'application/problem+json'", **secure}
    return {
        "Properties": {
            # The metrics' ApiName dimension: one per stack, not "crm" for every stage in the account.
            "Name": sub(STACK),
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": stack.API_RATE_LIMIT,
                    "ThrottlingBurstLimit": stack.API_BURST_LIMIT,
                }
            ],
            "GatewayResponses": {
                # Paths deeper than fallback.py's catch-all routes: a 404 problem,
                # not 403 "Missing Authentication Token".
                "MISSING_AUTHENTICATION_TOKEN": {
                    "StatusCode": 404,
                    "ResponseParameters": {"Headers": problem_headers},
                    "ResponseTemplates": {
                        "application/json": problem
                        % ("Not Found", 404, "No such endpoint; see /openapi.json for the routes this API offers.")
                    },
                },
                # Every other answer of the gateway's own (413 over its 10 MB, 403 ...): its body, our headers.
                "DEFAULT_4XX": {"ResponseParameters": {"Headers": secure}},
                "DEFAULT_5XX": {"ResponseParameters": {"Headers": secure}},
                "THROTTLED": {
                    "StatusCode": 429,
                    "ResponseParameters": {"Headers": {**problem_headers, "Retry-After": "'1'"}},
                    "ResponseTemplates": {
                        "application/json": problem
                        % ("Too Many Requests", 429, "Too many requests; please retry shortly.")
                    },
                },
            },
            "AccessLogSetting": {
                "Fn::If": [
                    "ApiAccessLogs",
                    {
                        "DestinationArn": arn("ApiAccessLogGroup"),
                        "Format": (
                            '{"request_id":"$context.requestId","ip":"$context.identity.sourceIp",'
                            '"method":"$context.httpMethod","path":"$context.path","status":"$context.status",'
                            '"latency_ms":"$context.responseLatency","bytes":"$context.responseLength"}'
                        ),
                    },
                    ref("AWS::NoValue"),
                ]
            },
        }
    }


# ---- operations ----


def _alarm(
    description: str,
    namespace: str,
    metric: str,
    dimensions: list[Json],
    statistic: str,
    threshold: float,
    *,
    periods: int = 1,
    condition: str | None = None,
) -> Json:
    alarm: Json = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": statistic,
            "Period": 300,
            "EvaluationPeriods": periods,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref("AlarmTopic")],
            "OKActions": [ref("AlarmTopic")],
        },
    }
    if condition:
        alarm["Condition"] = condition
    return alarm


def alarm_resources() -> Json:
    resources: Json = {
        # Encrypted topics need a customer key whose policy lets CloudWatch in; alarms carry no personal data.
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": sub(f"{STACK} alarms")}},
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": ref("AlarmEmail")},
        },
    }
    for logical in queues():
        dlq = dead_letter_id(logical)
        resources[f"{dlq}Alarm"] = _alarm(
            f"Messages of the {logical} queue failed {queues()[logical]['max_receive_count']} times and wait in its "
            "dead-letter queue: read them, fix the cause, redrive.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
            "Maximum",
            1,
        )
        resources[f"{queue_id(logical)}AgeAlarm"] = _alarm(
            f"The oldest message of the {logical} queue waits for more than {stack.QUEUE_AGE_ALARM_SECONDS} s: "
            "its consumer is stuck or overrun.",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id(logical), "QueueName"]}}],
            "Maximum",
            stack.QUEUE_AGE_ALARM_SECONDS,
        )
    for name, fn in stack.FUNCTIONS.items():
        fid = function_id(name)
        condition = image_condition(name) if fn.image is not None else None
        dims = [{"Name": "FunctionName", "Value": ref(fid)}]
        resources[f"{fid}ErrorsAlarm"] = _alarm(
            f"The {name} function failed (exception, timeout or out of memory).",
            "AWS/Lambda",
            "Errors",
            dims,
            "Sum",
            1,
            condition=condition,
        )
        resources[f"{fid}ThrottlesAlarm"] = _alarm(
            f"Invocations of the {name} function were throttled.",
            "AWS/Lambda",
            "Throttles",
            dims,
            "Sum",
            1,
            condition=condition,
        )
    # 5XXError is 0 or 1 per request, so its average is the share of 5xx answers.
    resources["Api5xxAlarm"] = _alarm(
        f"More than {stack.API_5XX_RATE:.0%} of API requests answered 5xx for 15 minutes.",
        "AWS/ApiGateway",
        "5XXError",
        [{"Name": "ApiName", "Value": sub(STACK)}, {"Name": "Stage", "Value": API_STAGE}],
        "Average",
        stack.API_5XX_RATE,
        periods=3,
    )
    resources["ApiAccessLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Condition": "ApiAccessLogs",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "LogGroupName": sub(f"/aws/apigateway/{STACK}/access"),
            "RetentionInDays": stack.LOG_RETENTION_DAYS,
        },
    }
    return resources


def outputs(stage: str) -> Json:
    secret_env = " ".join(f"{secret.env}=${{{secret_id(name)}}}" for name, secret in stack.SECRETS.items())
    result: Json = {
        "TableName": {"Value": ref("Table")},
        "BucketName": {"Value": ref("Bucket")},
        "QueuePrefix": {"Value": sub(f"{STACK}-")},
        "AlarmTopicArn": {"Value": ref("AlarmTopic")},
        # What the admin CLI needs to work on this stack (README "Deploy to AWS").
        "CliEnvironment": {
            "Value": sub(
                f"CRM_STAGE={stage} CRM_TABLE_NAME=${{Table}} CRM_BUCKET_NAME=${{Bucket}} CRM_QUEUE_PREFIX={STACK}- "
                f"{secret_env} AWS_DEFAULT_REGION=${{AWS::Region}}"
            )
        },
    }
    for name in stack.SECRETS:
        result[f"{secret_id(name)}Arn"] = {"Value": ref(secret_id(name))}
    for logical in queues():
        result[f"{queue_id(logical)}Url"] = {"Value": ref(queue_id(logical))}
    return result


def merge_template(stage: str) -> Json:
    resources: Json = {"Table": table(), "Bucket": bucket(), "BucketPolicy": bucket_policy()}
    resources.update(queue_resources())
    resources.update(secret_resources())
    resources.update(role_resources())
    resources.update(function_resources(stage))
    resources[API_LOGICAL_ID] = api_properties()
    resources.update(alarm_resources())
    resources.update(mail_event_resources())
    return {"Parameters": parameters(), "Conditions": conditions(), "Resources": resources, "Outputs": outputs(stage)}


# ---- mass mailing's bounces and complaints (ADM-2) ----


def mail_event_resources() -> Json:
    """SES configuration set -> SNS topic -> the bounces queue (raw delivery)."""
    events = stack.MAIL_EVENTS
    queue = queue_id(events.queue)
    return {
        "MailConfigurationSet": {"Type": "AWS::SES::ConfigurationSet", "Properties": {}},
        "MailEventTopic": {
            # Not encrypted at rest: SES cannot publish to a topic under the AWS managed key
            # (checkov-exceptions.yaml, CKV_AWS_26); SNS keeps nothing, the queue is encrypted.
            "Type": "AWS::SNS::Topic",
            "Properties": {"DisplayName": sub(f"{STACK} mail events")},
        },
        "MailEventDestination": {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "Properties": {
                "ConfigurationSetName": ref("MailConfigurationSet"),
                "EventDestination": {
                    "Enabled": True,
                    "MatchingEventTypes": [e.lower() for e in events.events],
                    "SnsDestination": {"TopicARN": ref("MailEventTopic")},
                },
            },
        },
        "MailEventSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": ref("MailEventTopic"),
                "Protocol": "sqs",
                "Endpoint": arn(queue),
                "RawMessageDelivery": True,
            },
        },
        "MailEventQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [ref(queue)],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "MailEventsFromThisTopicOnly",
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": arn(queue),
                            "Condition": {"ArnEquals": {"aws:SourceArn": ref("MailEventTopic")}},
                        }
                    ],
                },
            },
        },
    }
