# Functions and tasks made by modules: the public terraform-aws-modules ones are read, a
# module the audit does not know is reported as not read (never counted as clean).
module "checkout" {
  source  = "terraform-aws-modules/lambda/aws"
  version = "~> 7.0"

  function_name = "checkout-prod"
  handler       = "index.handler"
  runtime       = "nodejs20.x"
  source_path   = "${path.module}/src/checkout"

  environment_variables = {
    NODE_ENV          = "production"
    STRIPE_SECRET_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dcTx9Qm2Lz7Rt1Vw9Kc3N"
  }

  attach_policy_statements = true
  policy_statements = {
    secrets = {
      effect    = "Allow"
      actions   = ["secretsmanager:*"]
      resources = ["*"]
    }
  }
}

module "webhooks" {
  source  = "terraform-aws-modules/lambda/aws"
  version = "~> 7.0"

  function_name = "webhooks-prod"
  handler       = "app.handler"
  runtime       = "python3.12"

  attach_policy_json = true
  policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/webhooks/signing-Zx81Qa"]
    }]
  })
}

module "api_service" {
  source = "terraform-aws-modules/ecs/aws//modules/service"

  name        = "api"
  cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"

  container_definitions = {
    api = {
      image = "public.ecr.aws/acme/api:2.3"
      environment = [
        { name = "LOG_LEVEL", value = "info" },
        { name = "SESSION_SECRET", value = "Xk9mP2vL7qR4tW8zB3nJ6hF1" },
      ]
    }
  }
}

module "reports" {
  source = "git::https://example.com/acme/terraform-reports.git?ref=v1.2.0"

  name        = "reports"
  schedule    = "rate(1 day)"
  secret_name = "prod/reports/warehouse"
}
