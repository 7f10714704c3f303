output "directory_url" {
  description = "The directory's function URL; clients GET <url>v1/rooms/<room>/relay?token=<join token>."
  value       = module.directory.function_url
}

output "relay_public_ips" {
  description = "Public IPv4 addresses of the relay VMs (UDP and TCP 443)."
  value       = module.relay.public_ips
}

output "relay_endpoints" {
  description = "Base URLs of the relays (https://host:443); WebTransport at /api/rooms/<room>, WebSocket at wss://host:443/api/rooms/<room>/ws."
  value       = module.relay.endpoints
}

output "registry_table" {
  description = "DynamoDB table the relays publish themselves to."
  value       = aws_dynamodb_table.registry.name
}

output "relay_secret_parameter_arns" {
  description = "The SSM parameters the relays' instance role may read (and nothing else)."
  value       = module.relay.secret_parameter_arns
}

output "edge_settings" {
  description = "What the edge (wrangler.toml / wrangler secret put) needs so browsers find the relays and the relays' trunks are accepted: RELAY_DIRECTORY_URL as a var, and the two secrets set to the values of these SSM parameters."
  value = {
    vars = {
      RELAY_DIRECTORY_URL = module.directory.function_url
    }
    secrets_from_ssm = {
      JOIN_TOKEN_SECRET = var.join_token_secret_parameter
      TRUNK_SECRET      = var.trunk_secret_parameter
    }
  }
}
