"""Deploy the packaged template as far as moto can (issue 12's stretch).

    build/infra-venv/bin/python -m infra.aws.moto_stack build/aws/prod

Runs in the tools' virtualenv (aws-sam-translator and moto's CloudFormation
pull in what the app's venv keeps out). Two steps a real deploy also takes:

1. aws-sam-translator turns the SAM template into plain CloudFormation, as
   the `AWS::Serverless-2016-10-31` transform does in AWS: a SAM property it
   refuses fails here instead of in a customer's account.
2. moto's CloudFormation creates that stack, with deployment.zip in a moto
   bucket, and the created resources are read back: table keys, indexes and
   stream, queue redrive and visibility, event source mappings with batch
   item failures, function roles and sizes.

moto implements only part of CloudFormation: resource types it does not
know are listed, not failed (the API Gateway stage settings and alarms are
checked by tests/infra/test_deployment.py on the template instead).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

REGION = "eu-central-1"
STACK = "crm-moto"
CODE_BUCKET = "crm-artifacts"
PARAMETERS = {"MailFrom": "crm@example.com", "SesIdentity": "example.com"}


class _NoManagedPolicies:
    """Our functions name their own roles; SAM never needs AWS's managed policy map."""

    def load(self) -> dict[str, str]:
        return {}


def translate(sam: dict[str, Any]) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(sam)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function" and resource["Properties"].get("CodeUri"):
            resource["Properties"]["CodeUri"] = {"Bucket": CODE_BUCKET, "Key": "deployment.zip"}
    values = {
        **PARAMETERS,
        "AWS::Region": REGION,
        "AWS::Partition": "aws",
        "AWS::AccountId": "123456789012",
        "AWS::StackName": STACK,
    }
    return transform(template, values, _NoManagedPolicies())  # type: ignore[arg-type]


# Resource types moto would fail on although AWS creates them, and why.
MOTO_GAPS = {
    "AWS::ApiGateway::Deployment": "moto's RestApi ignores its OpenAPI Body, so a deployment finds no methods",
    "AWS::ApiGateway::Stage": "it needs that deployment",
}


def without_moto_gaps(cfn_template: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(cfn_template)
    gone = {name for name, r in template["Resources"].items() if r["Type"] in MOTO_GAPS}
    for name in gone:
        del template["Resources"][name]
    for resource in template["Resources"].values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d not in gone]
        elif depends in gone:
            del resource["DependsOn"]
    return template


def create(cfn_template: dict[str, Any], zip_path: Path) -> list[str]:
    """Creates the stack in moto; returns the problems found reading it back."""
    import boto3
    from moto import mock_aws

    problems: list[str] = []
    cfn_template = without_moto_gaps(cfn_template)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.upload_file(str(zip_path), CODE_BUCKET, "deployment.zip")
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(cfn_template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            return [f"stack status {stack['StackStatus']}: {stack.get('StackStatusReason')}"]
        created = {
            r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        }
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        problems += _read_back(cfn_template, created, outputs)
        skipped = sorted(
            {
                cfn_template["Resources"][name]["Type"]
                for name in cfn_template["Resources"]
                if name not in created and "Condition" not in cfn_template["Resources"][name]
            }
        )
        print(
            f"moto created {len(created)} of {len(cfn_template['Resources'])} resources; "
            f"types moto does not implement: {', '.join(skipped) or 'none'}"
        )
    return problems


def _read_back(template: dict[str, Any], created: dict[str, Any], outputs: dict[str, str]) -> list[str]:
    import boto3

    problems: list[str] = []
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = dynamodb.describe_table(TableName=outputs["TableName"])["Table"]
    wanted = template["Resources"]["Table"]["Properties"]
    if sorted(i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])) != sorted(
        i["IndexName"] for i in wanted["GlobalSecondaryIndexes"]
    ):
        problems.append("table indexes differ from the template")
    if table["KeySchema"] != wanted["KeySchema"]:
        problems.append("table key schema differs from the template")
    if table.get("StreamSpecification", {}).get("StreamViewType") != "NEW_AND_OLD_IMAGES":
        problems.append("table has no NEW_AND_OLD_IMAGES stream")

    sqs = boto3.client("sqs", region_name=REGION)
    lam = boto3.client("lambda", region_name=REGION)
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in resource["Properties"]:
            physical = created[name]["PhysicalResourceId"]  # the queue's URL or its name
            url = physical if physical.startswith("http") else sqs.get_queue_url(QueueName=physical)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
            if not redrive.get("deadLetterTargetArn", "").endswith("-dlq"):
                problems.append(f"{name}: no dead-letter queue in {attributes.get('RedrivePolicy')}")
            if int(attributes["VisibilityTimeout"]) != resource["Properties"]["VisibilityTimeout"]:
                problems.append(f"{name}: visibility timeout {attributes['VisibilityTimeout']}")
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    expected = [
        n
        for n, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::EventSourceMapping" and "Condition" not in r
    ]
    if len(mappings) != len(expected):
        problems.append(f"{len(mappings)} event source mappings, expected {len(expected)}")
    for mapping in mappings:
        if mapping.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
            problems.append(f"mapping of {mapping['FunctionArn']} lacks ReportBatchItemFailures")
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function" or name not in created:
            continue
        config = lam.get_function_configuration(FunctionName=created[name]["PhysicalResourceId"])
        if config["Timeout"] != resource["Properties"]["Timeout"]:
            problems.append(f"{name}: timeout {config['Timeout']}")
        if config.get("Runtime") != resource["Properties"].get("Runtime"):
            problems.append(f"{name}: runtime {config.get('Runtime')}")
        # (moto creates no secret, so CRM_CURSOR_SECRET_ARN resolves to nothing here.)
        if config.get("Environment", {}).get("Variables", {}).get("CRM_TABLE_NAME") != outputs["TableName"]:
            problems.append(f"{name}: CRM_TABLE_NAME is not the stack's table")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(args[0])
    # moto, never AWS: no credentials or endpoints of this machine may leak in.
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(key, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    cfn_template = translate(json.loads((out / "sam.json").read_text()))
    (out / "cloudformation.json").write_text(json.dumps(cfn_template, indent=1, sort_keys=True))
    problems = create(cfn_template, out / "deployment.zip")
    if problems:
        print("\n".join(["moto deploy failed:", *problems]), file=sys.stderr)
        return 1
    print("moto deploy: SAM translated, stack created, resources read back as the template says")
    return 0


if __name__ == "__main__":
    sys.exit(main())
