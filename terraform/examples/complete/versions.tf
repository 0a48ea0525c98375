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

provider "aws" {
  region = var.aws_region
}

# Credentials from GENESYSCLOUD_OAUTHCLIENT_ID / GENESYSCLOUD_OAUTHCLIENT_SECRET (a client-credentials OAuth client
# allowed to manage integrations); never in this file.
provider "genesyscloud" {
  aws_region = var.genesys_aws_region
}
