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

variable "token_secret_parameter" {
  description = "SSM SecureString parameter holding the join-token secret; empty: the relays run open."
  type        = string
  default     = ""
}

variable "token_secret_arn" {
  description = "ARN of that parameter (the instance role may read only it)."
  type        = string
  default     = ""
}

variable "tls_mode" {
  description = "\"self-signed\" (rotating, hash published) or \"certificate\" (PEM files)."
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
}

variable "tls_cert_path" {
  description = "PEM certificate chain on the VM (tls_mode = \"certificate\")."
  type        = string
}

variable "tls_key_path" {
  description = "PEM private key on the VM (tls_mode = \"certificate\")."
  type        = string
}
