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
