# Two relays with rotating self-signed certificates: browsers pin the
# SHA-256 the directory hands out (serverCertificateHashes), no DNS needed.
region                = "eu-west-1"
name                  = "edgecall"
subnet_id             = "subnet-0123456789abcdef0"
relay_count           = 2
relay_instance_type   = "c7g.large"
relay_binary_url      = "https://github.com/edgecall/edgecall/releases/download/v0.1.0/edgecall-relay-aarch64-linux"
relay_binary_sha256   = "0000000000000000000000000000000000000000000000000000000000000000"
tls_mode              = "self-signed"
directory_package_zip = "../target/lambda/edgecall-directory/bootstrap.zip"
cors_allow_origins    = ["https://meet.example.com"]
log_retention_days    = 14
# join_token_secret: pass with TF_VAR_join_token_secret, never in a file.
