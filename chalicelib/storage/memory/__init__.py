"""In-memory twins of the storage ports, for tests of the domain without
moto or HTTP; tests/contract holds each to the same behaviour as its
DynamoDB/S3 adapter."""
