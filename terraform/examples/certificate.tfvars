# Three relays with real certificates for relay-N.example.com (DNS A records
# to the relay_public_ips output; certificates placed at tls_cert_path /
# tls_key_path by your ACME client, e.g. certbot's DNS-01 plugin).
region                 = "us-east-1"
name                   = "edgecall-prod"
subnet_id              = "subnet-0fedcba9876543210"
relay_count            = 3
relay_instance_type    = "c7gn.large"
relay_binary_url       = "s3://edgecall-artifacts/relay/v0.1.0/edgecall-relay-aarch64-linux"
relay_binary_sha256    = "1111111111111111111111111111111111111111111111111111111111111111"
tls_mode               = "certificate"
relay_hostnames        = ["relay-0.example.com", "relay-1.example.com", "relay-2.example.com"]
tls_cert_path          = "/etc/edgecall/tls/fullchain.pem"
tls_key_path           = "/etc/edgecall/tls/privkey.pem"
directory_package_zip  = "../target/lambda/edgecall-directory/bootstrap.zip"
directory_architecture = "arm64"
cors_allow_origins     = ["https://meet.example.com"]
log_retention_days     = 30
