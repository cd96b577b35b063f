"""Infrastructure-as-code scanner: Terraform, plans, CloudFormation, IAM, Kubernetes, Dockerfiles."""
