# A complete edgecall deployment on AWS: the root module that configures
# the AWS provider and composes the edge settings, the relays (trunking to
# the edge) and the directory from terraform/ (the module two levels up).
#
#   cd terraform/examples/complete
#   terraform init
#   terraform plan -var-file=self-signed.tfvars -out=edgecall.plan
#   terraform apply edgecall.plan
#
# Create the SSM SecureString parameters first (terraform/README.md,
# "Secrets"): Terraform only names them, so no secret is in a tfvars file,
# in the relays' user data or in their configuration files.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project = "edgecall"
      Stack   = var.name
    }
  }
}

module "edgecall" {
  source = "../.."

  name                = var.name
  subnet_id           = var.subnet_id
  relay_count         = var.relay_count
  relay_instance_type = var.relay_instance_type
  relay_binary_url    = var.relay_binary_url
  relay_binary_sha256 = var.relay_binary_sha256

  # The edge: its base URL (the trunks' target and the directory's default
  # CORS origin) and the secrets it shares with the relays and the directory.
  edge_url                    = var.edge_url
  join_token_secret_parameter = var.join_token_secret_parameter
  trunk_secret_parameter      = var.trunk_secret_parameter
  directory_api_key_parameter = var.directory_api_key_parameter
  secrets_kms_key_arn         = var.secrets_kms_key_arn

  tls_mode                  = var.tls_mode
  relay_hostnames           = var.relay_hostnames
  tls_certificate_parameter = var.tls_certificate_parameter
  tls_private_key_parameter = var.tls_private_key_parameter

  directory_package_zip          = var.directory_package_zip
  directory_architecture         = var.directory_architecture
  directory_secret_source        = var.directory_secret_source
  directory_reserved_concurrency = var.directory_reserved_concurrency
  log_retention_days             = var.log_retention_days
  cors_allow_origins             = var.cors_allow_origins
}
