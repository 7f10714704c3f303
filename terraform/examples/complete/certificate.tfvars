# Three relays with a real certificate for relay-N.example.com (DNS A
# records to the relay_public_ips output). The chain and key live in SSM
# SecureString parameters (renewed by your ACME client, see
# terraform/README.md), encrypted with a customer managed key; the
# directory's operator key too. Every value is a placeholder.
region              = "us-east-1"
name                = "edgecall-prod"
subnet_id           = "subnet-0fedcba9876543210"
relay_count         = 3
relay_instance_type = "c7gn.large"
relay_binary_url    = "s3://edgecall-artifacts/relay/v0.1.0/edgecall-relay-aarch64-linux"
relay_binary_sha256 = "1111111111111111111111111111111111111111111111111111111111111111"

edge_url                    = "https://meet.example.com"
join_token_secret_parameter = "/edgecall-prod/join-token-secret"
trunk_secret_parameter      = "/edgecall-prod/trunk-secret"
directory_api_key_parameter = "/edgecall-prod/directory-api-key"
secrets_kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"

tls_mode                  = "certificate"
relay_hostnames           = ["relay-0.example.com", "relay-1.example.com", "relay-2.example.com"]
tls_certificate_parameter = "/edgecall-prod/tls/fullchain.pem"
tls_private_key_parameter = "/edgecall-prod/tls/privkey.pem"

directory_package_zip  = "../../../dist/lambda/edgecall-directory-arm64.zip"
directory_architecture = "arm64"
cors_allow_origins     = ["https://meet.example.com"]
log_retention_days     = 30
