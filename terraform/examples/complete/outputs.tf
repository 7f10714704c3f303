output "directory_url" {
  description = "The directory's function URL: the edge's RELAY_DIRECTORY_URL; clients GET <url>v1/rooms/<room>/relay?token=<join token>."
  value       = module.edgecall.directory_url
}

output "relay_endpoints" {
  description = "Base URLs of the relays (https://host:443)."
  value       = module.edgecall.relay_endpoints
}

output "relay_public_ips" {
  description = "Public IPv4 addresses of the relays (DNS A records for relay_hostnames in certificate mode)."
  value       = module.edgecall.relay_public_ips
}

output "edge_settings" {
  description = "What to set on the edge: `wrangler secret put` each secret from its SSM parameter, RELAY_DIRECTORY_URL in wrangler.toml [vars]."
  value       = module.edgecall.edge_settings
}
