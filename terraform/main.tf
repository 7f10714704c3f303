# edgecall on AWS: relay VMs running nats-server in a cluster and trunking
# to the edge, the registry table the relays publish themselves to, and the
# directory Lambda that tells clients which relay serves a room.
#
# A module: the caller configures the AWS provider (region, credentials,
# default tags). examples/complete/ is a root module that does.

# One item per relay (record JSON + TTL). Relays PutItem, the directory Scans.
resource "aws_dynamodb_table" "registry" {
  #checkov:skip=CKV_AWS_28:Nothing to restore: every relay rewrites its own record every 30 s and records expire (TTL); a lost table refills within a heartbeat.
  #checkov:skip=CKV_AWS_119:The records are what the directory hands to anyone with a join token (public relay URLs, certificate hashes); DynamoDB's default encryption at rest is enough, a customer managed key would add cost and a key policy, not protection.
  name         = "${var.name}-relays"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "relay_id"

  attribute {
    name = "relay_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
}

locals {
  # The Worker serves the web client, so by default only the edge's origin
  # may call the directory from a browser.
  cors_allow_origins = length(var.cors_allow_origins) > 0 ? var.cors_allow_origins : [var.edge_url]
}

module "relay" {
  source = "./modules/relay"

  name                      = var.name
  subnet_id                 = var.subnet_id
  relay_count               = var.relay_count
  instance_type             = var.relay_instance_type
  relay_binary_url          = var.relay_binary_url
  relay_binary_sha256       = var.relay_binary_sha256
  registry_table_name       = aws_dynamodb_table.registry.name
  registry_table_arn        = aws_dynamodb_table.registry.arn
  edge_url                  = var.edge_url
  token_secret_parameter    = var.join_token_secret_parameter
  trunk_secret_parameter    = var.trunk_secret_parameter
  tls_certificate_parameter = var.tls_certificate_parameter
  tls_private_key_parameter = var.tls_private_key_parameter
  kms_key_arn               = var.secrets_kms_key_arn
  tls_mode                  = var.tls_mode
  relay_hostnames           = var.relay_hostnames
}

module "directory" {
  source = "./modules/directory"

  name                   = var.name
  package_zip            = var.directory_package_zip
  architecture           = var.directory_architecture
  registry_table_name    = aws_dynamodb_table.registry.name
  registry_table_arn     = aws_dynamodb_table.registry.arn
  token_secret_parameter = var.join_token_secret_parameter
  api_key_parameter      = var.directory_api_key_parameter
  kms_key_arn            = var.secrets_kms_key_arn
  secret_source          = var.directory_secret_source
  reserved_concurrency   = var.directory_reserved_concurrency
  log_retention_days     = var.log_retention_days
  cors_allow_origins     = local.cors_allow_origins
}
