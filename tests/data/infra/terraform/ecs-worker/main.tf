resource "aws_secretsmanager_secret" "queue" {
  name = "staging/worker/queue-credentials"
}

resource "aws_ssm_parameter" "api_key" {
  name  = "/worker/staging/partner-api-key"
  type  = "SecureString"
  value = "pk_8Hs2LmQ9xTz4Vb7Nc1Rw5Ye3"
}

resource "aws_iam_role" "execution" {
  name               = "worker-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role" "task" {
  name               = "worker-task"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.queue.arn]
  }
  statement {
    effect    = "Allow"
    actions   = ["ssm:GetParameters"]
    resources = [aws_ssm_parameter.api_key.arn]
  }
}

resource "aws_iam_policy" "execution_secrets" {
  name   = "worker-execution-secrets"
  policy = data.aws_iam_policy_document.execution_secrets.json
}

resource "aws_iam_role_policy_attachment" "execution_secrets" {
  role       = aws_iam_role.execution.name
  policy_arn = aws_iam_policy.execution_secrets.arn
}

resource "aws_iam_role_policy_attachment" "execution_managed" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  container_definitions = jsonencode([
    {
      name      = "worker"
      image     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:latest"
      essential = true
      environment = [
        { name = "QUEUE_URL", value = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs" },
        { name = "SENTRY_DSN", value = "https://3f9a1c2b7d4e4f1a9b8c6d5e2f1a0b9c:8e7d6c5b4a39281706f5e4d3c2b1a098@o123456.ingest.sentry.io/4504" }
      ]
      secrets = [
        { name = "QUEUE_CREDENTIALS", valueFrom = aws_secretsmanager_secret.queue.arn },
        { name = "PARTNER_API_KEY", valueFrom = aws_ssm_parameter.api_key.arn }
      ]
    }
  ])
}
