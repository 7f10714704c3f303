variable "region" {
  description = "AWS region for every resource, e.g. eu-west-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like eu-west-1."
  }
}

variable "name" {
  description = "Prefix for resource names (table, Lambda, roles, instances)."
  type        = string
  default     = "edgecall"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "subnet_id" {
  description = "Public subnet (with an internet gateway route) the relay VMs are placed in."
  type        = string

  validation {
    condition     = startswith(var.subnet_id, "subnet-")
    error_message = "subnet_id must be a subnet id (subnet-...)."
  }
}

variable "relay_count" {
  description = "Number of relay VMs; each runs edgecall-relay and a nats-server routed to all the others."
  type        = number
  default     = 2

  validation {
    condition     = var.relay_count >= 1 && var.relay_count <= 16 && floor(var.relay_count) == var.relay_count
    error_message = "relay_count must be a whole number from 1 to 16."
  }
}

variable "relay_instance_type" {
  description = "EC2 instance type of the relays (network bandwidth matters more than CPU)."
  type        = string
  default     = "c7g.large"
}

variable "relay_binary_url" {
  description = "Where VMs download the edgecall-relay binary (built with --features aws for the instance's architecture): an https:// release URL or an s3://bucket/key object."
  type        = string

  validation {
    condition     = can(regex("^(https://|s3://)", var.relay_binary_url))
    error_message = "relay_binary_url must start with https:// or s3://."
  }
}

variable "relay_binary_sha256" {
  description = "SHA-256 (hex) of the relay binary; cloud-init refuses a download that does not match."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.relay_binary_sha256))
    error_message = "relay_binary_sha256 must be 64 lower-case hex digits."
  }
}

variable "join_token_secret" {
  description = "HS256 join-token secret shared by the relays and the directory (at least 32 characters); empty runs everything open (development only)."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.join_token_secret == "" || length(var.join_token_secret) >= 32
    error_message = "join_token_secret must be empty or at least 32 characters."
  }
}

variable "directory_api_key" {
  description = "Operator key for the relay directory (x-api-key), for backends that look up relays without a join token; empty: none."
  type        = string
  default     = ""
  sensitive   = true
}

variable "tls_mode" {
  description = "\"self-signed\": relays generate short-lived certificates and publish their SHA-256 to the directory (browsers pin it); \"certificate\": relays load PEM files from tls_cert_path/tls_key_path for relay_hostnames."
  type        = string
  default     = "self-signed"

  validation {
    condition     = contains(["self-signed", "certificate"], var.tls_mode)
    error_message = "tls_mode must be \"self-signed\" or \"certificate\"."
  }
}

variable "relay_hostnames" {
  description = "With tls_mode = \"certificate\": one DNS name per relay (in order), pointing at its public IP, covered by the certificate."
  type        = list(string)
  default     = []
}

variable "tls_cert_path" {
  description = "With tls_mode = \"certificate\": PEM certificate chain path on the VM (placed there by your ACME client or image)."
  type        = string
  default     = "/etc/edgecall/tls/fullchain.pem"
}

variable "tls_key_path" {
  description = "With tls_mode = \"certificate\": PEM private key path on the VM."
  type        = string
  default     = "/etc/edgecall/tls/privkey.pem"
}

variable "directory_package_zip" {
  description = "Path of the directory Lambda zip (a `bootstrap` binary built with `cargo lambda build --release --features aws --bin edgecall-directory --output-format zip`)."
  type        = string

  validation {
    condition     = endswith(var.directory_package_zip, ".zip")
    error_message = "directory_package_zip must be a .zip file."
  }
}

variable "directory_architecture" {
  description = "Lambda architecture the directory binary was built for: arm64 or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.directory_architecture)
    error_message = "directory_architecture must be arm64 or x86_64."
  }
}

variable "log_retention_days" {
  description = "CloudWatch retention of the directory's logs, in days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365)."
  }
}

variable "cors_allow_origins" {
  description = "Origins allowed to call the directory from a browser (your web client's origin, e.g. https://meet.example.com)."
  type        = list(string)
  default     = ["*"]
}
