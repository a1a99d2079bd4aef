"""DynamoDB, S3, SQS and SES adapters: the only package that imports boto3."""
