[
  {
    "name": "renderer",
    "image": "public.ecr.aws/acme/renderer:1.4",
    "environment": [{"name": "SIGNING_KEY", "value": "${signing_key}"}],
    "secrets": [{"name": "DATABASE_URL", "valueFrom": "${database_arn}"}]
  }
]
