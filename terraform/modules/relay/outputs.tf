output "public_ips" {
  description = "Public IPv4 address of each relay."
  value       = aws_instance.relay[*].public_ip
}

output "endpoints" {
  description = "Base URL of each relay (what it publishes to the directory)."
  value = [
    for i, instance in aws_instance.relay :
    "https://${var.tls_mode == "certificate" ? var.relay_hostnames[i] : instance.public_ip}:443"
  ]
}

output "security_group_id" {
  description = "The relays' security group."
  value       = aws_security_group.relay.id
}

output "secret_parameter_arns" {
  description = "The SSM parameters the relays' instance role may read (and nothing else)."
  value       = local.secret_parameter_arns
}
