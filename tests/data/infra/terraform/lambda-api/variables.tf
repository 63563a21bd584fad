variable "environment" {
  description = "Deploy environment: dev, staging or prod"
  type        = string
  default     = "prod"
}

variable "db_password" {
  description = "Master password of the orders database"
  type        = string
  default     = "Xk9#vLq2Rt7!mWz4"
}

variable "sendgrid_api_key" {
  type      = string
  sensitive = true
}
