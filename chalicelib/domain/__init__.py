"""The CRM itself: models, services and rules. No boto3, no chalice."""
