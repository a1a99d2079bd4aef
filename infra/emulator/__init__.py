"""The AWS emulator as this project runs it: moto, adapted where its DynamoDB
does not scale (``dynamodb_patch``), served by ``python -m infra.emulator``
for the local stack and loaded by the test suite. Nothing in chalicelib
imports this package: the app talks to it only through boto3."""
