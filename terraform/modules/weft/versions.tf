terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 7.0.0"
    }
    genesyscloud = {
      source  = "MyPureCloud/genesyscloud"
      version = ">= 1.40.0, < 2.0.0"
    }
  }
}
