# Two relays with rotating self-signed certificates: browsers pin the
# SHA-256 the directory hands out (serverCertificateHashes), no DNS needed.
# Every value is a placeholder; no secret belongs in this file (the secrets
# are in the SSM parameters named here).
region              = "eu-west-1"
name                = "edgecall"
subnet_id           = "subnet-0123456789abcdef0"
relay_count         = 2
relay_instance_type = "c7g.large"
relay_binary_url    = "https://github.com/edgecall/edgecall/releases/download/v0.1.0/edgecall-relay-aarch64-linux"
relay_binary_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"

edge_url                    = "https://meet.example.com"
join_token_secret_parameter = "/edgecall/join-token-secret"
trunk_secret_parameter      = "/edgecall/trunk-secret"

tls_mode = "self-signed"

directory_package_zip = "../../../dist/lambda/edgecall-directory-arm64.zip"
log_retention_days    = 14
