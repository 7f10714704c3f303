variable "name" {
  description = "Prefix for resource names."
  type        = string
}

variable "subnet_id" {
  description = "Public subnet for the relay VMs."
  type        = string
}

variable "relay_count" {
  description = "Number of relay VMs (fixed, so the NATS routes are known when cloud-init is rendered)."
  type        = number

  validation {
    condition     = var.relay_count >= 1 && var.relay_count <= 16
    error_message = "relay_count must be from 1 to 16."
  }
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
}

variable "private_ip_offset" {
  description = "Host number (in the subnet's CIDR) of the first relay's private IP; relays take consecutive addresses so every VM knows its NATS peers before any exists."
  type        = number
  default     = 10

  validation {
    condition     = var.private_ip_offset >= 4
    error_message = "private_ip_offset must be at least 4 (AWS reserves the first addresses of a subnet)."
  }
}

variable "relay_binary_url" {
  description = "https:// or s3:// location of the edgecall-relay binary."
  type        = string
}

variable "relay_binary_sha256" {
  description = "SHA-256 (hex) the downloaded binary must match."
  type        = string
}

variable "registry_table_name" {
  description = "DynamoDB table the relays publish themselves to (--publish-to dynamodb://<table>)."
  type        = string
}

variable "registry_table_arn" {
  description = "ARN of that table: the only resource the instance role may write."
  type        = string
}

variable "edge_url" {
  description = "The edge's base URL (https://host): every room with participants on a relay keeps one trunk to the edge's room (relay.toml `edge`)."
  type        = string

  validation {
    condition     = can(regex("^https://[a-z0-9.-]+$", var.edge_url))
    error_message = "edge_url must be https://<host> (no port, path or trailing slash): the relays may only reach TCP 443."
  }
}

variable "token_secret_parameter" {
  description = "Name of the SSM SecureString parameter holding the HS256 join-token secret (the edge's JOIN_TOKEN_SECRET). Required: the relays always verify join tokens."
  type        = string

  validation {
    condition     = can(regex("^/[A-Za-z0-9_.\\-/]+$", var.token_secret_parameter))
    error_message = "token_secret_parameter must be a hierarchical SSM parameter name such as /edgecall/join-token-secret."
  }
}

variable "trunk_secret_parameter" {
  description = "Name of the SSM SecureString parameter holding the edge's TRUNK_SECRET (the relays' trunks present it as a bearer token)."
  type        = string

  validation {
    condition     = can(regex("^/[A-Za-z0-9_.\\-/]+$", var.trunk_secret_parameter))
    error_message = "trunk_secret_parameter must be a hierarchical SSM parameter name such as /edgecall/trunk-secret."
  }
}

variable "tls_certificate_parameter" {
  description = "With tls_mode = \"certificate\": name of the SSM SecureString parameter holding the PEM certificate chain covering every relay_hostnames entry."
  type        = string
  default     = ""

  validation {
    condition     = var.tls_certificate_parameter == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.tls_certificate_parameter))
    error_message = "tls_certificate_parameter must be empty or a hierarchical SSM parameter name."
  }
}

variable "tls_private_key_parameter" {
  description = "With tls_mode = \"certificate\": name of the SSM SecureString parameter holding the PEM private key of that certificate."
  type        = string
  default     = ""

  validation {
    condition     = var.tls_private_key_parameter == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.tls_private_key_parameter))
    error_message = "tls_private_key_parameter must be empty or a hierarchical SSM parameter name."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key the secret parameters are encrypted with; empty: the AWS managed key alias/aws/ssm (no KMS grant needed)."
  type        = string
  default     = ""
}

variable "tls_mode" {
  description = "\"self-signed\" (rotating, hash published) or \"certificate\" (PEM chain and key read from SSM at every start)."
  type        = string

  validation {
    condition     = contains(["self-signed", "certificate"], var.tls_mode)
    error_message = "tls_mode must be \"self-signed\" or \"certificate\"."
  }
}

variable "relay_hostnames" {
  description = "With tls_mode = \"certificate\": one DNS name per relay, in order."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for host in var.relay_hostnames : can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", host))])
    error_message = "relay_hostnames must be lower-case DNS names."
  }
}
