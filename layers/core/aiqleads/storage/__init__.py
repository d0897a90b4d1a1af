"""Data access: small repository classes over DynamoDB, S3, SQS and SNS (the only place boto3 is used).

Endpoints come from the environment (AWS_ENDPOINT_URL in the local cloud, nothing in AWS): no endpoint logic here.
"""
